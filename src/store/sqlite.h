// A thin RAII layer over the SQLite C API that converts failures into
// facespace::Error naming the database file and SQLite's message.
#ifndef FACESPACE_SRC_STORE_SQLITE_H_
#define FACESPACE_SRC_STORE_SQLITE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "facespace/error.h"

namespace facespace::sqlite {

class Database;

// A prepared statement. Bind indexes start at 1, column indexes at 0.
class Statement {
 public:
  Statement(Database& database, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, double value);
  Statement& BindText(int index, std::string_view text);
  Statement& BindBlob(int index, std::span<const std::uint8_t> bytes);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Advances to the next row; returns false when done. Throws on errors.
  bool Step();
  // Runs a statement that returns no rows, then resets it for reuse.
  void Run();
  void Reset();

  bool IsNull(int column) const;
  std::int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;    // TEXT or BLOB bytes as a string
  std::vector<std::uint8_t> Blob(int column) const;
  std::span<const std::uint8_t> BlobView(int column) const;  // valid until the next Step

 private:
  Database& database_;
  sqlite3_stmt* statement_ = nullptr;
};

class Database {
 public:
  // Opens `file` read-only or read-write (not creating it unless `create`).
  Database(const std::filesystem::path& file, bool writable, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() { return handle_; }
  const std::filesystem::path& file() const { return file_; }

  // Runs one or more statements that return no rows.
  void Execute(std::string_view sql);
  std::int64_t LastInsertId() const;
  int Changes() const;

  // Throws Error(category) "<file>: <what>: <SQLite message>".
  [[noreturn]] void Fail(std::string_view what, ErrorCategory category = ErrorCategory::kInternal);
  // Maps an SQLite result code to the error category used for it.
  static ErrorCategory CategoryOf(int code);

 private:
  std::filesystem::path file_;
  sqlite3* handle_ = nullptr;
};

}  // namespace facespace::sqlite

#endif  // FACESPACE_SRC_STORE_SQLITE_H_
