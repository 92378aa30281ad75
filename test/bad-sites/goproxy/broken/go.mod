module example.internal/broken

go 1.21

require (
	github.com/google/uuid latest
	rsc.io/quote
