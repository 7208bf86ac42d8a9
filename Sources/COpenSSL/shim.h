#ifndef PIPE_COPENSSL_SHIM_H
#define PIPE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#endif
