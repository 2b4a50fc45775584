// Self-test input for check_sql_parameterized.py: every line marked BAD builds SQL from
// values and must be reported. Not compiled.
#include <pqxx/pqxx>

constexpr char kPrefix[] = "SELECT * FROM sagas WHERE id = ";

void Bad(pqxx::work& tx, pqxx::connection& c, const std::string& id, int limit,
         const std::string& table) {
  tx.exec("SELECT * FROM sagas WHERE id = '" + id + "'");  // BAD
  tx.exec0(std::string("DELETE FROM sagas WHERE id = '") + id + "'");  // BAD
  tx.exec1(fmt::format("SELECT count(*) FROM {}", table));  // BAD
  tx.exec_params(std::format("SELECT * FROM sagas LIMIT {}", limit));  // BAD
  tx.exec_params("SELECT * FROM sagas LIMIT " + std::to_string(limit));  // BAD
  tx.exec(absl::StrCat("SELECT * FROM ", table));  // BAD
  tx.exec(kPrefix + id);  // BAD
  std::string query = "SELECT * FROM sagas WHERE id = '" + id + "'";
  tx.exec(query);  // BAD
  c.prepare("by_table", "SELECT * FROM " + table);  // BAD
  tx.exec_prepared("find_" + table, id);  // BAD
  tx.exec_n(1,  // BAD
            absl::StrFormat("SELECT %d", limit));
  pqxx::pipeline pipe(tx);  // BAD
  std::ostringstream out;
  out << "SELECT " << limit;
  tx.exec(out.str());  // BAD
}

const std::vector<Statement>& AllStatements() {
  static const std::vector<Statement> statements = {
      {stmt::kGood, "SELECT 1"},
      {stmt::kBad, std::string("SELECT ") + kTable},  // BAD
  };
  return statements;
}
