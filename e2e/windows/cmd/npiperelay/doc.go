// Command npiperelay is Windows e2e scaffolding: run under Wine, it serves a
// named pipe (\\.\pipe\docker_engine by default) and copies every connection
// to the engine's loopback TCP port, so the agent finds "Docker Desktop's
// pipe" with no DOCKER_HOST at all. It can also serve a pipe that refuses
// a read-write open (-inbound: ERROR_ACCESS_DENIED, as for a user outside
// docker-users; Wine does not enforce a pipe's DACL) or one that accepts and never answers (-silent), for the
// agent's pipe error messages. Not part of the product.
package main
