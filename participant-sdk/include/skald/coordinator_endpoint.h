// CoordinatorEndpoint: how a participant's process reaches the coordinator's APIs (the
// registry, and the client API for starting sagas and completing accepted steps).

#ifndef SKALD_COORDINATOR_ENDPOINT_H_
#define SKALD_COORDINATOR_ENDPOINT_H_

#include <string>

namespace skald {

// PEM files for the channel to the coordinator; all empty: plaintext.
struct CoordinatorTls {
  // The CA the coordinator's certificate is checked against (it must also name the host of
  // the address). Empty with cert_file set: the system's CA bundle.
  std::string ca_file;
  // This process's client certificate and key, for a coordinator requiring mutual TLS.
  std::string cert_file;
  std::string key_file;
};

struct CoordinatorEndpoint {
  // "host:port" of any coordinator of the cluster (they share one database).
  std::string address;
  // TLS to the coordinator; plaintext when all empty.
  CoordinatorTls tls;
  // The API token of a coordinator with authentication on, sent as "authorization: Bearer
  // <token>". Empty: none is sent.
  std::string token;
};

}  // namespace skald

#endif  // SKALD_COORDINATOR_ENDPOINT_H_
