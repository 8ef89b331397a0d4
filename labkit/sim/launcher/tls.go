package main

import (
	"crypto/tls"
	"fmt"
)

// tlsConfig returns the server's TLS settings. Without a certificate pair the
// simulator package falls back to its built-in localhost certificate.
func tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile == "" {
		return cfg, nil
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tlscert/-tlskey: %v", err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}
