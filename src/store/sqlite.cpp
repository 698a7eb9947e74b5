#include "store/sqlite.h"

namespace facespace::sqlite {

ErrorCategory Database::CategoryOf(int code) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return ErrorCategory::kCorrupt;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorCategory::kIo;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCategory::kLocked;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      return ErrorCategory::kInvalidArgument;
    default:
      return ErrorCategory::kInternal;
  }
}

Database::Database(const std::filesystem::path& file, bool writable, bool create) : file_(file) {
  int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  if (create) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  const int code = sqlite3_open_v2(file.c_str(), &handle_, flags, nullptr);
  if (code != SQLITE_OK) {
    const std::string message = handle_ ? sqlite3_errmsg(handle_) : sqlite3_errstr(code);
    sqlite3_close(handle_);
    handle_ = nullptr;
    throw Error(CategoryOf(code), file.string() + ": cannot open database: " + message);
  }
  sqlite3_extended_result_codes(handle_, 1);
  sqlite3_busy_timeout(handle_, 10000);
}

Database::~Database() { sqlite3_close_v2(handle_); }

void Database::Execute(std::string_view sql) {
  char* message = nullptr;
  const int code = sqlite3_exec(handle_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (code != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errstr(code);
    sqlite3_free(message);
    throw Error(CategoryOf(code), file_.string() + ": " + text);
  }
}

std::int64_t Database::LastInsertId() const { return sqlite3_last_insert_rowid(handle_); }
int Database::Changes() const { return sqlite3_changes(handle_); }

void Database::Fail(std::string_view what, ErrorCategory category) {
  const int code = sqlite3_extended_errcode(handle_);
  if (category == ErrorCategory::kInternal) category = CategoryOf(code);
  throw Error(category, file_.string() + ": " + std::string(what) + ": " + sqlite3_errmsg(handle_));
}

Statement::Statement(Database& database, std::string_view sql) : database_(database) {
  if (sqlite3_prepare_v2(database.handle(), sql.data(), static_cast<int>(sql.size()), &statement_,
                         nullptr) != SQLITE_OK) {
    database.Fail("cannot prepare '" + std::string(sql.substr(0, 60)) + "'");
  }
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement& Statement::Bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) database_.Fail("bind");
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) database_.Fail("bind");
  return *this;
}

Statement& Statement::BindText(int index, std::string_view text) {
  if (sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    database_.Fail("bind");
  }
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must not be bound as NULL, so pass a valid pointer.
  static const std::uint8_t kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();
  if (sqlite3_bind_blob(statement_, index, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    database_.Fail("bind");
  }
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  return BindBlob(index, std::span<const std::uint8_t>(
                             reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Statement& Statement::BindNull(int index) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) database_.Fail("bind");
  return *this;
}

bool Statement::Step() {
  const int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  // Reset so a cached statement can be reused after the error is handled.
  const std::string message = sqlite3_errmsg(database_.handle());
  const int extended = sqlite3_extended_errcode(database_.handle());
  sqlite3_reset(statement_);
  throw Error(Database::CategoryOf(extended), database_.file().string() + ": " + message);
}

void Statement::Run() {
  while (Step()) {
  }
  Reset();
}

void Statement::Reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

bool Statement::IsNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(statement_, column); }
double Statement::Real(int column) const { return sqlite3_column_double(statement_, column); }

std::string Statement::Text(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(statement_, column));
  const int size = sqlite3_column_bytes(statement_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::span<const std::uint8_t> Statement::BlobView(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, column));
  const int size = sqlite3_column_bytes(statement_, column);
  return data ? std::span<const std::uint8_t>(data, static_cast<std::size_t>(size))
              : std::span<const std::uint8_t>();
}

std::vector<std::uint8_t> Statement::Blob(int column) const {
  const auto view = BlobView(column);
  return {view.begin(), view.end()};
}

}  // namespace facespace::sqlite
