#include "coordinator/devdb/system_account.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace skald::devdb {

absl::StatusOr<SystemAccount> LookUpAccount(std::string_view name) {
  std::string user(name);
  std::vector<char> buffer(16384);
  struct passwd pwd;
  struct passwd* found = nullptr;
  int err = ::getpwnam_r(user.c_str(), &pwd, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("there is no system user '", user, "'",
                                            err != 0 ? absl::StrCat(": ", std::strerror(err)) : "",
                                            "; is the PostgreSQL server package installed?"));
  }
  SystemAccount account;
  account.name = user;
  account.uid = pwd.pw_uid;
  account.gid = pwd.pw_gid;
  int count = 64;
  account.groups.resize(static_cast<size_t>(count));
  if (::getgrouplist(user.c_str(), pwd.pw_gid, account.groups.data(), &count) < 0) {
    account.groups.resize(static_cast<size_t>(count));
    ::getgrouplist(user.c_str(), pwd.pw_gid, account.groups.data(), &count);
  }
  account.groups.resize(static_cast<size_t>(std::max(count, 0)));
  return account;
}

absl::Status CheckCanEnter(const std::string& dir, const SystemAccount& account) {
  std::filesystem::path current = "/";
  std::vector<std::string> to_check = {"/"};
  for (const auto& part : std::filesystem::path(dir).relative_path()) {
    current /= part;
    to_check.push_back(current.string());
  }
  for (const std::string& path : to_check) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot inspect directory ", path, ": ", std::strerror(errno)));
    }
    if (account.uid == 0) continue;
    mode_t bit = S_IXOTH;
    if (st.st_uid == account.uid) {
      bit = S_IXUSR;
    } else if (std::find(account.groups.begin(), account.groups.end(), st.st_gid) !=
               account.groups.end()) {
      bit = S_IXGRP;
    }
    if ((st.st_mode & bit) == 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "PostgreSQL runs as user '%s' (uid %d), which cannot enter directory %s (mode %04o, "
          "owner uid %d, group gid %d). Put the data directory somewhere that user can reach "
          "(e.g. under /var/lib or /tmp), or grant it search permission: chmod o+x %s",
          account.name, account.uid, path, st.st_mode & 07777, st.st_uid, st.st_gid, path));
    }
  }
  return absl::OkStatus();
}

absl::Status ChownTo(const std::string& path, const SystemAccount& account) {
  if (::chown(path.c_str(), account.uid, account.gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot give ", path, " to user '", account.name,
                                            "': chown: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace skald::devdb
