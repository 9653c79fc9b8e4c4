module github.com/streamcatcher/streamcatcher

go 1.26.0

require (
	github.com/hajimehoshi/go-mp3 v0.3.4
	github.com/pion/rtp v1.10.6
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/crypto v0.59.0
	golang.org/x/net v0.63.0
	golang.org/x/sys v0.50.0
	layeh.com/gopus v0.0.0-20210501142526-1ee02d434e32
	pgregory.net/rapid v1.3.0
)

require (
	github.com/pion/randutil v0.1.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
