#include "peer/asio/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace meshkv::peer {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct ChainDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct NamesDeleter {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

// Drains OpenSSL's error queue (so that the next call starts clean) and
// returns its last reason, or `fallback` when it was empty.
std::string TakeOpenSslError(absl::string_view fallback) {
  std::string reason(fallback);
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    reason = r != nullptr ? r : absl::StrCat("OpenSSL error ", e);
  }
  return reason;
}

absl::StatusOr<std::unique_ptr<BIO, BioDeleter>> OpenFile(const std::string& file,
                                                          absl::string_view what) {
  if (file.empty()) return absl::InvalidArgumentError(absl::StrCat("no ", what, " file given"));
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(file.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", what, " ", file, ": ", TakeOpenSslError("no such file")));
  }
  return bio;
}

// Expired or not yet valid: the message names the time.
absl::Status CheckValidNow(const X509* cert, absl::string_view what) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " expired at ", FormatAsn1Time(X509_get0_notAfter(cert)), " (re-issue it)"));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is not valid before ", FormatAsn1Time(X509_get0_notBefore(cert))));
  }
  return absl::OkStatus();
}

bool IsPrintable(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

TlsFiles TlsFilesFromCertsDir(absl::string_view certs_dir) {
  std::string dir(certs_dir);
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return TlsFiles{dir + "ca.crt", dir + "node.crt", dir + "node.key"};
}

absl::StatusOr<TlsFiles> ResolveTlsFiles(absl::string_view certs_dir, absl::string_view tls_ca,
                                         absl::string_view tls_cert, absl::string_view tls_key) {
  TlsFiles files;
  if (!certs_dir.empty()) files = TlsFilesFromCertsDir(certs_dir);
  if (!tls_ca.empty()) files.ca_file = std::string(tls_ca);
  if (!tls_cert.empty()) files.cert_file = std::string(tls_cert);
  if (!tls_key.empty()) files.key_file = std::string(tls_key);
  std::string missing;
  if (files.ca_file.empty()) absl::StrAppend(&missing, " --tls-ca");
  if (files.cert_file.empty()) absl::StrAppend(&missing, " --tls-cert");
  if (files.key_file.empty()) absl::StrAppend(&missing, " --tls-key");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS needs --certs-dir, or all of --tls-ca --tls-cert --tls-key (missing:",
                     missing, "); --insecure runs without TLS"));
  }
  return files;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate: ", TakeOpenSslError("no certificate")));
  }
  return cert;
}

absl::StatusOr<X509Ptr> LoadCertificate(const std::string& pem_file) {
  auto bio = OpenFile(pem_file, "certificate");
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        pem_file, " holds no PEM certificate: ", TakeOpenSslError("no certificate")));
  }
  return cert;
}

absl::Status CheckTlsFiles(const TlsFiles& files) {
  // The CA: every certificate of the file is trusted.
  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  {
    auto bio = OpenFile(files.ca_file, "CA certificate");
    if (!bio.ok()) return bio.status();
    int n = 0;
    while (X509* ca = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store.get(), ca);
      X509_free(ca);
      ++n;
    }
    ERR_clear_error();  // the end of the file reads as an error
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(files.ca_file, " holds no PEM certificate"));
    }
  }
  // The certificate, then any intermediates after it.
  auto bio = OpenFile(files.cert_file, "certificate");
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.cert_file, " holds no PEM certificate: ", TakeOpenSslError("no certificate")));
  }
  std::unique_ptr<STACK_OF(X509), ChainDeleter> chain(sk_X509_new_null());
  while (X509* more = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(chain.get(), more);
  }
  ERR_clear_error();
  auto key_bio = OpenFile(files.key_file, "private key");
  if (!key_bio.ok()) return key_bio.status();
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.key_file, " holds no PEM private key: ", TakeOpenSslError("unreadable")));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(files.key_file, " is not the key of ", files.cert_file));
  }
  if (absl::Status s = CheckValidNow(cert.get(), files.cert_file); !s.ok()) return s;
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> vctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(vctx.get(), store.get(), cert.get(), chain.get()) != 1) {
    return absl::InternalError(TakeOpenSslError("X509_STORE_CTX_init failed"));
  }
  if (X509_verify_cert(vctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(vctx.get());
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(files.cert_file, " does not chain to ",
                                                   files.ca_file, ": ",
                                                   X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeMeshTlsContext(const TlsFiles& files) {
  if (absl::Status s = CheckTlsFiles(files); !s.ok()) return s;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  SSL_CTX* native = ctx->native_handle();
  // TLS 1.3 only: no version to downgrade to, no renegotiation, and the
  // certificates travel encrypted.
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    return absl::InternalError(TakeOpenSslError("cannot restrict the context to TLS 1.3"));
  }
  // No resumption: every connection presents and verifies a certificate,
  // so the identity checked is always that of the certificate on the wire.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  asio::error_code ec;
  auto failed = [&](absl::string_view what, const std::string& file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", what, " ", file, ": ", ec.message()));
  };
  ctx->load_verify_file(files.ca_file, ec);
  if (ec) return failed("CA certificate", files.ca_file);
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return failed("certificate", files.cert_file);
  ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if (ec) return failed("private key", files.key_file);
  ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return absl::InternalError(ec.message());
  return ctx;
}

absl::StatusOr<std::string> DecodeNodeIdFromUri(absl::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      const bool room = i + 2 < encoded.size();
      const int hi = room ? HexValue(encoded[i + 1]) : -1;
      const int lo = room ? HexValue(encoded[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::UnauthenticatedError("certificate's node ID has a malformed %-escape");
      }
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    out.push_back(c);
    if (out.size() > kMaxNodeIdBytes) {
      return absl::UnauthenticatedError(
          absl::StrCat("certificate's node ID is longer than ", kMaxNodeIdBytes, " bytes"));
    }
  }
  if (out.empty()) return absl::UnauthenticatedError("certificate names an empty node ID");
  if (!IsPrintable(out)) {
    return absl::UnauthenticatedError("certificate's node ID holds control characters");
  }
  return out;
}

absl::StatusOr<std::string> NodeIdFromCertificate(const X509* cert) {
  if (cert == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  int critical = -1;
  std::unique_ptr<GENERAL_NAMES, NamesDeleter> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr) {
    return absl::UnauthenticatedError(
        critical == -2 ? "certificate has several subjectAltName extensions"
                       : "certificate names no node ID (no subjectAltName): not a node certificate");
  }
  std::string id;
  int found = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    absl::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                           static_cast<size_t>(ASN1_STRING_length(uri)));
    if (!absl::StartsWith(text, kNodeUriPrefix)) continue;
    if (++found > 1) {
      return absl::UnauthenticatedError("certificate names several node IDs");
    }
    text.remove_prefix(kNodeUriPrefix.size());
    if (text.size() > 3 * kMaxNodeIdBytes) {
      return absl::UnauthenticatedError(
          absl::StrCat("certificate's node ID is longer than ", kMaxNodeIdBytes, " bytes"));
    }
    auto decoded = DecodeNodeIdFromUri(text);
    if (!decoded.ok()) return decoded.status();
    id = *std::move(decoded);
  }
  if (found == 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate names no node ID (no ", kNodeUriPrefix, " URI SAN): not a node certificate"));
  }
  return id;
}

absl::Status CheckPeerNodeId(const X509* cert, absl::string_view claimed_id) {
  auto id = NodeIdFromCertificate(cert);
  if (!id.ok()) return id.status();
  if (*id != claimed_id) {
    // The claim is untrusted input: bound what is echoed into logs.
    std::string shown(claimed_id.substr(0, kMaxNodeIdBytes));
    if (!IsPrintable(shown)) shown = "(unprintable)";
    return absl::PermissionDeniedError(absl::StrCat("peer claims node ID \"", shown,
                                                    "\" but its certificate names \"", *id, "\""));
  }
  return absl::OkStatus();
}

absl::Status CheckCertificateHost(const X509* cert, absl::string_view host) {
  if (cert == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  X509* x = const_cast<X509*>(cert);  // OpenSSL's check functions do not modify it
  const int ip = X509_check_ip_asc(x, h.c_str(), 0);
  if (ip == 1) return absl::OkStatus();
  if (ip == -2 &&  // not an IP address: a DNS name
      X509_check_host(x, h.data(), h.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1) {
    return absl::OkStatus();
  }
  ERR_clear_error();
  std::string shown = h.substr(0, 255);
  if (!IsPrintable(shown)) shown = "(unprintable)";
  return absl::PermissionDeniedError(
      absl::StrCat("host ", shown, " is not among the certificate's hosts (DNS/IP SANs)"));
}

std::string FormatAsn1Time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable time)";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromTM(tm, absl::UTCTimeZone()),
                          absl::UTCTimeZone());
}

}  // namespace meshkv::peer
