/* SPDX-License-Identifier: MIT */
/* Checksums of what is sent, through libcrypto's EVP (never hashes written here). */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "upload-internal.h"

int upload_hash_init(struct upload_hash *h, bool md5) {
        *h = (struct upload_hash){0};
        EVP_MD_CTX *sha = EVP_MD_CTX_new();
        if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(sha);
                return -ENOMEM;
        }
        h->sha256 = sha;
        if (!md5)
                return 0;
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (!m || EVP_DigestInit_ex(m, EVP_md5(), NULL) != 1) {
                EVP_MD_CTX_free(m);
                upload_hash_done(h);
                return -ENOMEM;
        }
        h->md5 = m;
        return 0;
}

void upload_hash_update(struct upload_hash *h, const void *data, size_t len) {
        if (len == 0)
                return;
        (void) EVP_DigestUpdate(h->sha256, data, len);
        if (h->md5)
                (void) EVP_DigestUpdate(h->md5, data, len);
}

int upload_hash_final(struct upload_hash *h, uint8_t md5[16], uint8_t sha256[32]) {
        unsigned n = 0;
        if (EVP_DigestFinal_ex(h->sha256, sha256, &n) != 1 || n != 32)
                return -EIO;
        if (md5 && (!h->md5 || EVP_DigestFinal_ex(h->md5, md5, &n) != 1 || n != 16))
                return -EIO;
        return 0;
}

void upload_hash_done(struct upload_hash *h) {
        EVP_MD_CTX_free(h->sha256);
        EVP_MD_CTX_free(h->md5);
        *h = (struct upload_hash){0};
}

void upload_hex(const uint8_t *data, size_t len, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[data[i] >> 4];
                out[2 * i + 1] = digits[data[i] & 15];
        }
        out[2 * len] = '\0';
}

void upload_base64(const uint8_t *data, size_t len, char *out) {
        (void) EVP_EncodeBlock((unsigned char *) out, data, (int) len);
}
