# Development certificates for mutual TLS (included by the main Makefile).
CERTS_DIR ?= certs/dev

.PHONY: certs
certs: ## make a dev CA and mTLS certificates (n1..n5, bank-a..c, admin, client) in ./certs/dev/ (CERTS_DIR=…)
	$(GO) run ./certs/gencerts --dir $(CERTS_DIR)
