# Writes OUTPUT, a C++ source defining skald::store::EmbeddedMigrations(): every
# MIGRATIONS_DIR/NNNN_name.sql file, in order, as {version, name, sql}.
file(GLOB files "${MIGRATIONS_DIR}/*.sql")
list(SORT files)
set(entries "")
foreach(file IN LISTS files)
  get_filename_component(base "${file}" NAME_WE)
  if(NOT base MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)$")
    message(FATAL_ERROR "migration file name must be NNNN_description.sql: ${file}")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  file(READ "${file}" sql)
  string(APPEND entries "    {${version}, \"${name}\", R\"skald_sql(${sql})skald_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from migrations/*.sql by cmake/EmbedMigrations.cmake. Do not edit.
#include \"coordinator/store/migrator.h\"

namespace skald::store {

const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration> migrations = {
${entries}  };
  return migrations;
}

}  // namespace skald::store
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
