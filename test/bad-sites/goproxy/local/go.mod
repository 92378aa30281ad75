module example.internal/local

go 1.21

require example.internal/shared v0.0.0

replace example.internal/shared => ../shared
