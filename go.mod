module github.com/streamcatcher/streamcatcher

go 1.26

require go.uber.org/goleak v1.3.0

require github.com/stretchr/testify v1.12.1 // indirect
