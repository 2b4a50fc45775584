// Self-test input for check_sql_parameterized.py: parameterized SQL in every shape the
// check accepts. Nothing here may be reported. Not compiled.
#include <pqxx/pqxx>

constexpr char kFindSql[] = "SELECT * FROM sagas WHERE id = $1";
constexpr const char* kSchemaDdl = R"sql(
  CREATE TABLE IF NOT EXISTS t (id text);  -- a "quoted" word and a + sign
)sql";
namespace stmt {
inline constexpr std::string_view kSelectSaga = "select_saga";
}

void Good(pqxx::work& tx, pqxx::connection& c, const std::string& id, bool flag) {
  tx.exec("SELECT 1");
  tx.exec0("UPDATE sagas SET state = 'RUNNING' "
           "WHERE id = 'x' + 1");  // a '+' inside the SQL text is not concatenation
  tx.exec_params("SELECT * FROM sagas WHERE id = $1 AND n = $2", id + "-suffix",
                 std::to_string(3));  // values may be built: they are parameters
  tx.exec_params(kFindSql, id);
  tx.exec(kSchemaDdl);
  tx.exec_prepared(Name(stmt::kSelectSaga), id);
  tx.exec_prepared1(std::string(stmt::kSelectSaga), id);
  tx.exec_params(flag ? "SELECT 1 WHERE $1 = 'a'" : "SELECT 2 WHERE $1 = 'b'", id);
  tx.exec_n(1, "SELECT 1");
  tx.exec_params_n(1, "SELECT $1", id);
  c.prepare("find", "SELECT * FROM sagas WHERE id = $1");
  // tx.exec("SELECT " + id);  a comment is not a call
  tx.exec(R"(SELECT '"' || $1)");
}

const std::vector<Statement>& AllStatements() {
  static const std::vector<Statement> statements = {
      {stmt::kSelectSaga, "SELECT " SKALD_MS("created_at") " FROM sagas WHERE id = $1"},
  };
  return statements;
}
