package cli

import "net"

func listenWait(socket string) (net.Listener, error) { return net.Listen("unix", socket) }

func dialWait(socket string) (net.Conn, error) { return net.Dial("unix", socket) }
