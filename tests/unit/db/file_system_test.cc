// The file-system seam (DatabaseOptions::file_system): every file of the database — RocksDB's
// write-ahead log, tables and manifest, the index checkpoint files and the directory — is read
// and written through the file system the options give.
#include <rocksdb/file_system.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "../collection/engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::NumericIds;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TempDir;

// Records the names of the files created, written and read through it.
class RecordingFs : public rocksdb::FileSystemWrapper {
 public:
  RecordingFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "RecordingFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    Note(&created_, f);
    return FileSystemWrapper::NewWritableFile(f, o, r, d);
  }
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* d) override {
    Note(&read_, f);
    return FileSystemWrapper::NewSequentialFile(f, o, r, d);
  }
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override {
    Note(&renamed_, t);
    return FileSystemWrapper::RenameFile(s, t, o, d);
  }
  rocksdb::IOStatus CreateDirIfMissing(const std::string& f, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
    Note(&dirs_, f);
    return FileSystemWrapper::CreateDirIfMissing(f, o, d);
  }

  // Whether some recorded name in `which` ends with `suffix`.
  bool Saw(const std::set<std::string>& which, std::string_view suffix) const {
    std::lock_guard g(mu_);
    for (const auto& f : which) {
      if (f.size() >= suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
    }
    return false;
  }
  const std::set<std::string>& created() const { return created_; }
  const std::set<std::string>& read() const { return read_; }
  const std::set<std::string>& renamed() const { return renamed_; }
  const std::set<std::string>& dirs() const { return dirs_; }

 private:
  void Note(std::set<std::string>* s, const std::string& f) {
    std::lock_guard g(mu_);
    s->insert(f);
  }
  mutable std::mutex mu_;
  std::set<std::string> created_, read_, renamed_, dirs_;
};

TEST(FileSystemSeamTest, RocksDbIndexFilesAndTheDirectoryGoThroughTheGivenFileSystem) {
  TempDir tmp;
  auto fs = std::make_shared<RecordingFs>();
  DatabaseOptions options;
  options.file_system = fs;
  const std::string path = tmp.Sub("db");
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, path));
    auto c = MustCreate(db.get(), "c", 4, Metric::kL2);
    IndexOptions hnsw;
    hnsw.type = IndexType::kHnsw;
    ASSERT_OK(c->SetIndex(hnsw));
    ASSERT_OK(c->Upsert({}, NumericIds(0, 50), RandomVectors(50, 4, 7)));
    ASSERT_OK(c->WaitForIndex(60'000));
    ASSERT_OK(c->Checkpoint());
  }
  EXPECT_TRUE(fs->Saw(fs->dirs(), "/db")) << "the database directory was created elsewhere";
  EXPECT_TRUE(fs->Saw(fs->created(), ".log")) << "RocksDB's write-ahead log was written elsewhere";
  EXPECT_TRUE(fs->Saw(fs->renamed(), "/CURRENT")) << "RocksDB's manifest pointer was written elsewhere";
  EXPECT_TRUE(fs->Saw(fs->created(), ".sxi.tmp")) << "the index checkpoint was written elsewhere";
  EXPECT_TRUE(fs->Saw(fs->renamed(), ".sxi")) << "the index checkpoint was renamed elsewhere";

  // Reopening reads the checkpoint through the file system too, and finds every point.
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, path));
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_EQ(n, 50u);
  }
  EXPECT_TRUE(fs->Saw(fs->read(), ".sxi")) << "the index checkpoint was read elsewhere";
}

TEST(FileSystemSeamTest, NullFileSystemIsTheRealOne) {
  TempDir tmp;
  DatabaseOptions options;
  ASSERT_EQ(options.file_system, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, tmp.Sub("db")));
    auto c = MustCreate(db.get(), "c", 2, Metric::kL2);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 3), std::vector<float>(6, 1.0f)));
  }
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("db") + "/CURRENT"));
}

}  // namespace
}  // namespace sextant
