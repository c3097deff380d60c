package gateway

// CloseIdleConnections closes the idle upstream connections of every
// console of this gateway. A reload (SIGHUP) calls it on the gateway it
// replaced: the requests still in flight there finish, and their
// connections, idle once they have, are closed by a later call.
func (s *Server) CloseIdleConnections() {
	for _, c := range s.consoleList {
		if c.proxy != nil {
			c.proxy.CloseIdleConnections()
		}
		if c.mountProxy != nil {
			c.mountProxy.CloseIdleConnections()
		}
	}
	if c, ok := s.provisionClient.Transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
