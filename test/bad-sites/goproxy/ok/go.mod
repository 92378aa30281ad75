module example.internal/tools

go 1.21

require (
	github.com/google/uuid v1.6.0
	rsc.io/quote v1.5.2 // indirect
)

replace golang.org/x/text => golang.org/x/text v0.14.0
