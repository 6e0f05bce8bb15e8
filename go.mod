module github.com/raftlab/raftlab

go 1.26

require github.com/stretchr/testify v1.12.1

require (
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
