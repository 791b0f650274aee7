/* sigcheck: iPXE-style detached code signatures, checked with the
 * interpreter's own mbedtls (its PKCS #7 and X.509 code).
 *
 * verify(sig, digest, roots) -> int
 *     sig     the NAME.sig file: a DER CMS/PKCS #7 SignedData, detached
 *             (no content inside), without signed attributes: what
 *             `openssl cms -sign -binary -noattr -outform DER` writes and
 *             iPXE's imgverify accepts;
 *     digest  the SHA-256 of the signed file (the agent hashes it);
 *     roots   PEM text of the certificates built into the image.
 * The result is one of the codes below (agent/verify.py names them).
 *
 * What is checked, in order (iPXE's cms.c and x509.c check the same things):
 * the structure parses; the digest algorithm is SHA-256; the signer's
 * certificate (found among the certificates the signature carries by the
 * issuer and serial number its SignerInfo names) chains through the other
 * carried certificates to one of the roots, every certificate valid at the
 * guest's clock; the signer's certificate has an extended key usage
 * extension naming id-kp-codeSigning (no extension, or only
 * anyExtendedKeyUsage, is refused, as iPXE does); the signature over the
 * digest verifies with the signer's key. A signature that carries no
 * certificates (the kernel's scripts/sign-file makes them, CMS_NOCERTS) is
 * taken when its signer is one of the roots itself (dates and code signing
 * checked the same way).
 *
 * mbedtls 3.6's pkcs7.c takes at most one certificate in a SignedData
 * (pkcs7_get_certificates answers MBEDTLS_ERR_PKCS7_FEATURE_UNAVAILABLE for
 * more), while iPXE's documented command adds the CA with -certfile. So the
 * certificates are taken out here, with mbedtls's ASN.1 reader and writer,
 * parsed as a chain of their own, and pkcs7.c parses the rest.
 */

#include "lib/mbedtls/library/pkcs7.c"

#include <string.h>

#include "mbedtls/asn1write.h"
#include "mbedtls/oid.h"
#include "mbedtls/x509_crt.h"
#include "py/runtime.h"

enum {
    SIG_OK = 0,
    SIG_BAD_SIGNATURE = 2,
    SIG_UNKNOWN_SIGNER = 3,
    SIG_NO_CODE_SIGNING = 4,
    SIG_EXPIRED = 5,
    SIG_NOT_YET_VALID = 6,
    SIG_MALFORMED = 7,
    SIG_DIGEST = 9,
    SIG_NO_ROOTS = 10,
    SIG_NO_MEMORY = 11,
};

#define CTX (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC)
#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define SET (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)

/* Copies der without its SignedData's certificates field into out (room for
 * len + 16 bytes), each certificate appended to certs. Returns the copy's
 * length (written at the end of out, at *start), or 0 when der is not a
 * well-formed ContentInfo holding a SignedData. */
static size_t split_certs(const unsigned char *der, size_t len, mbedtls_x509_crt *certs,
                          unsigned char *out, size_t room, unsigned char **start) {
    unsigned char *p = (unsigned char *)der, *end = p + len, *oid, *sd, *sd_end, *keep_end, *rest;
    size_t n, oid_len;
    int v;
    if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) || p + n != end) {
        return 0;
    }
    oid = p;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OID) || MBEDTLS_OID_CMP_RAW(MBEDTLS_OID_PKCS7_SIGNED_DATA, p, n)) {
        return 0;
    }
    p += n;
    oid_len = p - oid;
    if (mbedtls_asn1_get_tag(&p, end, &n, CTX | 0) || p + n != end) {
        return 0;
    }
    if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) || p + n != end) {
        return 0;
    }
    sd = p;
    sd_end = p + n;
    if (mbedtls_asn1_get_int(&p, sd_end, &v)) {
        return 0;
    }
    if (mbedtls_asn1_get_tag(&p, sd_end, &n, SET)) {               /* digestAlgorithms */
        return 0;
    }
    p += n;
    if (mbedtls_asn1_get_tag(&p, sd_end, &n, SEQ)) {               /* encapContentInfo */
        return 0;
    }
    p += n;
    keep_end = p;
    rest = p;
    if (p < sd_end && *p == (CTX | 0)) {                           /* [0] certificates */
        unsigned char *set_end;
        if (mbedtls_asn1_get_tag(&p, sd_end, &n, CTX | 0)) {
            return 0;
        }
        set_end = p + n;
        while (p < set_end) {
            unsigned char *c = p;
            if (mbedtls_asn1_get_tag(&p, set_end, &n, SEQ)) {
                return 0;
            }
            p += n;
            if (mbedtls_x509_crt_parse_der(certs, c, p - c) != 0) {
                return 0;
            }
        }
        rest = p;
    }
    /* Written back to front: the rest, what came before the certificates,
     * then the SignedData, [0] and ContentInfo headers. */
    unsigned char *w = out + room;
    int total = 0, r;
#define PUT(call) do { if ((r = (call)) < 0) { return 0; } total += r; } while (0)
    PUT(mbedtls_asn1_write_raw_buffer(&w, out, rest, sd_end - rest));
    PUT(mbedtls_asn1_write_raw_buffer(&w, out, sd, keep_end - sd));
    PUT(mbedtls_asn1_write_len(&w, out, total));
    PUT(mbedtls_asn1_write_tag(&w, out, SEQ));
    PUT(mbedtls_asn1_write_len(&w, out, total));
    PUT(mbedtls_asn1_write_tag(&w, out, CTX | 0));
    PUT(mbedtls_asn1_write_raw_buffer(&w, out, oid, oid_len));
    PUT(mbedtls_asn1_write_len(&w, out, total));
    PUT(mbedtls_asn1_write_tag(&w, out, SEQ));
#undef PUT
    *start = w;
    return total;
}

static int has_code_signing(const mbedtls_x509_crt *crt) {
    const mbedtls_x509_sequence *s;
    if (!mbedtls_x509_crt_has_ext_type(crt, MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE)) {
        return 0;
    }
    for (s = &crt->ext_key_usage; s != NULL && s->buf.p != NULL; s = s->next) {
        if (s->buf.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_CODE_SIGNING) &&
            memcmp(s->buf.p, MBEDTLS_OID_CODE_SIGNING, s->buf.len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int check(const unsigned char *sig, size_t sig_len, const unsigned char *digest, size_t digest_len,
                 const unsigned char *roots_pem, size_t roots_len,
                 mbedtls_x509_crt *certs, mbedtls_x509_crt *chain, mbedtls_x509_crt *roots,
                 mbedtls_pkcs7 *p7, unsigned char *buf, size_t room) {
    unsigned char *stripped = NULL;
    size_t n = split_certs(sig, sig_len, certs, buf, room, &stripped);
    mbedtls_md_type_t md;
    const mbedtls_pkcs7_signer_info *si;
    const mbedtls_x509_crt *c, *signer = NULL;
    uint32_t flags = 0;
    int ret;
    if (n == 0 || mbedtls_pkcs7_parse_der(p7, stripped, n) != MBEDTLS_PKCS7_SIGNED_DATA ||
        p7->signed_data.no_of_signers < 1) {
        return SIG_MALFORMED;
    }
    if (mbedtls_oid_get_md_alg(&p7->signed_data.digest_alg_identifiers, &md) != 0 ||
        md != MBEDTLS_MD_SHA256 || digest_len != 32) {
        return SIG_DIGEST;
    }
    si = &p7->signed_data.signers;
    for (c = certs; c != NULL && c->raw.p != NULL; c = c->next) {
        if (c->serial.len == si->serial.len && memcmp(c->serial.p, si->serial.p, c->serial.len) == 0 &&
            c->issuer_raw.len == si->issuer_raw.len &&
            memcmp(c->issuer_raw.p, si->issuer_raw.p, c->issuer_raw.len) == 0) {
            signer = c;
            break;
        }
    }
    ret = mbedtls_x509_crt_parse(roots, roots_pem, roots_len);
    if (ret < 0 || roots->raw.p == NULL) {
        return SIG_NO_ROOTS;
    }
    if (signer == NULL) {
        /* A signature that carries no certificates (the kernel's sign-file
         * writes them so): its signer must be one of the roots itself,
         * trusted as it is (valid now, code signing). */
        for (c = roots; c != NULL && c->raw.p != NULL; c = c->next) {
            if (c->serial.len == si->serial.len && memcmp(c->serial.p, si->serial.p, c->serial.len) == 0 &&
                c->issuer_raw.len == si->issuer_raw.len &&
                memcmp(c->issuer_raw.p, si->issuer_raw.p, c->issuer_raw.len) == 0) {
                break;
            }
        }
        if (c == NULL || c->raw.p == NULL) {
            return SIG_UNKNOWN_SIGNER;  /* its certificate is neither in the signature nor a root */
        }
        if (mbedtls_x509_time_is_past(&c->valid_to)) {
            return SIG_EXPIRED;
        }
        if (mbedtls_x509_time_is_future(&c->valid_from)) {
            return SIG_NOT_YET_VALID;
        }
        if (!has_code_signing(c)) {
            return SIG_NO_CODE_SIGNING;
        }
        return mbedtls_pkcs7_signed_hash_verify(p7, c, digest, digest_len) == 0 ? SIG_OK : SIG_BAD_SIGNATURE;
    }
    /* The chain to verify: the signer first, then every other carried certificate. */
    if (mbedtls_x509_crt_parse_der(chain, signer->raw.p, signer->raw.len) != 0) {
        return SIG_MALFORMED;
    }
    for (c = certs; c != NULL && c->raw.p != NULL; c = c->next) {
        if (c != signer && mbedtls_x509_crt_parse_der(chain, c->raw.p, c->raw.len) != 0) {
            return SIG_MALFORMED;
        }
    }
    ret = mbedtls_x509_crt_verify(chain, roots, NULL, NULL, &flags, NULL, NULL);
    if (ret != 0 || flags != 0) {
        if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
            return SIG_UNKNOWN_SIGNER;
        }
        if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
            return SIG_EXPIRED;
        }
        if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
            return SIG_NOT_YET_VALID;
        }
        return SIG_UNKNOWN_SIGNER;
    }
    if (!has_code_signing(chain)) {
        return SIG_NO_CODE_SIGNING;
    }
    ret = mbedtls_pkcs7_signed_hash_verify(p7, chain, digest, digest_len);
    if (ret == MBEDTLS_ERR_PKCS7_CERT_DATE_INVALID) {
        return mbedtls_x509_time_is_future(&chain->valid_from) ? SIG_NOT_YET_VALID : SIG_EXPIRED;
    }
    return ret == 0 ? SIG_OK : SIG_BAD_SIGNATURE;
}

static mp_obj_t sigcheck_verify(mp_obj_t sig_in, mp_obj_t digest_in, mp_obj_t roots_in) {
    mp_buffer_info_t sig, digest, roots;
    mp_get_buffer_raise(sig_in, &sig, MP_BUFFER_READ);
    mp_get_buffer_raise(digest_in, &digest, MP_BUFFER_READ);
    mp_get_buffer_raise(roots_in, &roots, MP_BUFFER_READ);
    /* mbedtls_x509_crt_parse takes PEM only with its terminating NUL counted. */
    unsigned char *pem = m_new(unsigned char, roots.len + 1);
    memcpy(pem, roots.buf, roots.len);
    pem[roots.len] = 0;
    size_t room = sig.len + 16;
    unsigned char *buf = m_new(unsigned char, room);
    mbedtls_x509_crt certs, chain, trusted;
    mbedtls_pkcs7 p7;
    mbedtls_x509_crt_init(&certs);
    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&trusted);
    mbedtls_pkcs7_init(&p7);
    int code = check(sig.buf, sig.len, digest.buf, digest.len, pem, roots.len + 1,
                     &certs, &chain, &trusted, &p7, buf, room);
    mbedtls_pkcs7_free(&p7);
    mbedtls_x509_crt_free(&trusted);
    mbedtls_x509_crt_free(&chain);
    mbedtls_x509_crt_free(&certs);
    m_del(unsigned char, buf, room);
    m_del(unsigned char, pem, roots.len + 1);
    return MP_OBJ_NEW_SMALL_INT(code);
}
static MP_DEFINE_CONST_FUN_OBJ_3(sigcheck_verify_obj, sigcheck_verify);

static const mp_rom_map_elem_t sigcheck_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_sigcheck) },
    { MP_ROM_QSTR(MP_QSTR_verify), MP_ROM_PTR(&sigcheck_verify_obj) },
};
static MP_DEFINE_CONST_DICT(sigcheck_globals, sigcheck_globals_table);

const mp_obj_module_t sigcheck_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&sigcheck_globals,
};

MP_REGISTER_MODULE(MP_QSTR_sigcheck, sigcheck_module);
