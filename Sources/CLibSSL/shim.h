#ifndef PIPE_CLIBSSL_SHIM_H
#define PIPE_CLIBSSL_SHIM_H
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Swift cannot call these function-like macros; static inline wrappers expose them. */
static inline long pipe_ssl_set_server_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int pipe_ssl_ctx_require_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}

/* Lets a server that closes without close_notify end a body; lengths and SHA-256 sums catch truncation. */
static inline void pipe_ssl_ctx_ignore_unexpected_eof(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
}
#endif
