#include "tests/support/test_certificates.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace skald::testing {
namespace {

// Single-quotes `arg` for /bin/sh.
std::string Quoted(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs `openssl args...` (killed after 30 s) with its output appended to `dir`/openssl.log.
absl::Status OpenSsl(const std::string& dir, const std::vector<std::string>& args) {
  std::string command = "timeout 30 openssl";
  for (const std::string& arg : args) command += " " + Quoted(arg);
  const std::string log = dir + "/openssl.log";
  command += " >>" + Quoted(log) + " 2>&1";
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("`" + command + "` failed (is openssl installed?); see " + log);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(const std::string& dir, const std::string& name) {
  CertificateFiles ca{dir + "/" + name + "-ca.pem", dir + "/" + name + "-ca.key"};
  // `req -x509` marks it a CA (basicConstraints CA:TRUE) by the system's openssl.cnf.
  absl::Status made = OpenSsl(
      dir, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca.key_file, "-out", ca.cert_file, "-days", "2", "-subj", "/CN=" + name});
  if (!made.ok()) return made;
  return TestCa(dir, std::move(ca));
}

absl::StatusOr<CertificateFiles> TestCa::Issue(const std::string& name,
                                               const std::string& names) const {
  CertificateFiles issued{dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
  const std::string request = dir_ + "/" + name + ".csr";
  const std::string extensions = dir_ + "/" + name + ".ext";
  {
    std::ofstream out(extensions, std::ios::trunc);
    out << "subjectAltName=" << names << "\n"
        << "extendedKeyUsage=serverAuth,clientAuth\n"
        << "basicConstraints=CA:FALSE\n"
        << "keyUsage=critical,digitalSignature,keyEncipherment\n";
    if (!out) return absl::InternalError("cannot write " + extensions);
  }
  absl::Status requested =
      OpenSsl(dir_, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", issued.key_file, "-out", request, "-subj", "/CN=" + name});
  if (!requested.ok()) return requested;
  absl::Status signed_ = OpenSsl(
      dir_, {"x509", "-req", "-in", request, "-CA", ca_.cert_file, "-CAkey", ca_.key_file,
             "-CAcreateserial", "-out", issued.cert_file, "-days", "2", "-extfile", extensions});
  if (!signed_.ok()) return signed_;
  return issued;
}

}  // namespace skald::testing
