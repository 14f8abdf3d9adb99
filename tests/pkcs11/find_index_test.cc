// Finds through the token's in-memory tag index (token/tag_index.h): they answer as the store
// does, and see every commit at once, this process's and another process's (p11_peer): objects
// created, destroyed and relabelled, public and private, found by CKA_LABEL, CKA_ID and
// CKA_CLASS + CKA_ID. Each check comes after enough finds that the index is loaded (a few, then a
// few more per 32 objects: token/object_sync.cc), so that the index, not the store, answers it.
#include <thread>

#include "fixture.h"

namespace twinhsm::test {
namespace {

CommandResult peer(std::vector<std::string> args) {
  args.insert(args.begin(), P11_PEER_PATH);
  return run_command(args);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

Template by_label(const std::string& label) {
  Template t;
  t.str(CKA_LABEL, label);
  return t;
}

// tagged: a token AES key with a label and an id (data objects have no CKA_ID).
Template tagged(const std::string& label, const std::string& id, bool priv) {
  Template t = aes_key(Bytes(32, 0x5a), true, priv);
  t.str(CKA_LABEL, label).str(CKA_ID, id);
  return t;
}

class FindIndexTest : public SessionTest {
 protected:
  static constexpr int kObjects = 40;
  void SetUp() override {
    SessionTest::SetUp();
    for (int i = 0; i < kObjects; ++i) {
      std::string n = std::to_string(i);
      mine_.push_back(create(f(), s_, tagged("pub-" + n, "id-" + n, false)));
    }
  }
  // warm finds enough times that the tag index is loaded and current (objects 20.. only: the
  // tests change objects below 20).
  void warm() {
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(find_all(f(), s_, by_label("pub-" + std::to_string(20 + i % 20))).size(), 1u);
    }
  }
  size_t count(const std::string& label) { return find_all(f(), s_, by_label(label)).size(); }
  std::vector<CK_OBJECT_HANDLE> mine_;
};

TEST_F(FindIndexTest, AnswersAsTheStoreDoes) {
  warm();
  Template id;
  id.str(CKA_ID, "id-7");
  EXPECT_EQ(find_all(f(), s_, id), std::vector<CK_OBJECT_HANDLE>{mine_[7]});
  Template class_id;
  class_id.ulong(CKA_CLASS, CKO_SECRET_KEY).str(CKA_ID, "id-8");
  EXPECT_EQ(find_all(f(), s_, class_id), std::vector<CK_OBJECT_HANDLE>{mine_[8]});
  Template data_id;
  data_id.ulong(CKA_CLASS, CKO_DATA).str(CKA_ID, "id-8");
  EXPECT_TRUE(find_all(f(), s_, data_id).empty());
  Template label_and_type = by_label("pub-9");  // an attribute no tag stands for
  label_and_type.ulong(CKA_KEY_TYPE, CKK_AES);
  EXPECT_EQ(find_all(f(), s_, label_and_type), std::vector<CK_OBJECT_HANDLE>{mine_[9]});
  label_and_type = by_label("pub-9");
  label_and_type.ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  EXPECT_TRUE(find_all(f(), s_, label_and_type).empty());
  Template sensitive = by_label("pub-9");  // a hidden value matches nothing
  sensitive.bytes(CKA_VALUE, Bytes(32, 0x5a));
  EXPECT_TRUE(find_all(f(), s_, sensitive).empty());
  EXPECT_EQ(find_all(f(), s_).size(), static_cast<size_t>(kObjects));  // in handle order
  EXPECT_EQ(find_all(f(), s_), mine_);
}

TEST_F(FindIndexTest, SeesThisProcesssChangesAtOnce) {
  warm();
  CK_OBJECT_HANDLE h = create(f(), s_, tagged("new-here", "id-new", false));
  EXPECT_EQ(find_all(f(), s_, by_label("new-here")), std::vector<CK_OBJECT_HANDLE>{h});
  std::string label = "renamed-here";
  CK_ATTRIBUTE a{CKA_LABEL, label.data(), label.size()};
  ASSERT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, &a, 1));
  EXPECT_EQ(count("new-here"), 0u);
  EXPECT_EQ(count("renamed-here"), 1u);
  ASSERT_CKR(CKR_OK, f()->C_DestroyObject(s_, h));
  EXPECT_EQ(count("renamed-here"), 0u);
}

TEST_F(FindIndexTest, SeesAnotherProcesssCreateDestroyAndRelabelInTheNextFind) {
  warm();
  CommandResult r = peer({"create", "made-by-peer", "v"});
  ASSERT_TRUE(r.ok()) << r.describe();
  std::vector<CK_OBJECT_HANDLE> found = find_all(f(), s_, by_label("made-by-peer"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(std::to_string(found[0]), trimmed(r.out));

  warm();
  r = peer({"destroy", "pub-3"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(count("pub-3"), 0u);
  Template id;
  id.str(CKA_ID, "id-3");
  EXPECT_TRUE(find_all(f(), s_, id).empty());

  warm();
  r = peer({"relabel", "pub-4", "pub-4-renamed"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(trimmed(r.out), "1");
  EXPECT_EQ(count("pub-4"), 0u);
  EXPECT_EQ(find_all(f(), s_, by_label("pub-4-renamed")), std::vector<CK_OBJECT_HANDLE>{mine_[4]});
}

// Another process's new rows join the loaded index (only the objects' last id moved:
// Store::ObjectsMark), between this process's own, and its commits that touch no object (a
// login's failure counter) leave the index as it is; every find stays right through all of it.
TEST_F(FindIndexTest, AddsAnotherProcesssRowsBetweenItsOwn) {
  warm();
  std::vector<std::pair<std::string, CK_OBJECT_HANDLE>> made;
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    made.emplace_back("here-" + n, create(f(), s_, tagged("here-" + n, "id-here-" + n, false)));
    CommandResult r = peer({"create", "peer-" + n, "v"});
    ASSERT_TRUE(r.ok()) << r.describe();
    made.emplace_back("peer-" + n, std::stoul(trimmed(r.out)));
    r = peer({"login", device().user_pin()});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(trimmed(r.out), "CKR_OK");
    for (const auto& [label, handle] : made) {
      EXPECT_EQ(find_all(f(), s_, by_label(label)), std::vector<CK_OBJECT_HANDLE>{handle}) << label;
    }
    EXPECT_EQ(count("pub-" + n), 1u);
  }
  EXPECT_EQ(find_all(f(), s_).size(), static_cast<size_t>(kObjects) + made.size());
}

TEST_F(FindIndexTest, SeesAnotherProcesssPrivateObjectsOnlyWhileLoggedIn) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE p = create(f(), s_, tagged("private-here", "id-private", true));
  warm();
  EXPECT_EQ(find_all(f(), s_, by_label("private-here")), std::vector<CK_OBJECT_HANDLE>{p});
  CommandResult r = peer({"as-user", device().user_pin(), "create-private", "private-peer", "v"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(count("private-peer"), 1u);
  Template class_id;
  class_id.ulong(CKA_CLASS, CKO_SECRET_KEY).str(CKA_ID, "id-private");
  EXPECT_EQ(find_all(f(), s_, class_id), std::vector<CK_OBJECT_HANDLE>{p});
  warm();
  r = peer({"as-user", device().user_pin(), "destroy", "private-here"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(trimmed(r.out), "1");
  EXPECT_EQ(count("private-here"), 0u);

  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  warm();
  EXPECT_EQ(count("private-peer"), 0u);  // private: not without the login
  EXPECT_EQ(find_all(f(), s_).size(), static_cast<size_t>(kObjects));
}

TEST_F(FindIndexTest, TwoThreadsFindWhileAnotherProcessWrites) {
  warm();
  std::thread writer([&] {
    CommandResult r = peer({"create-many", "many-", "30"});
    EXPECT_TRUE(r.ok()) << r.describe();
  });
  std::vector<std::thread> finders;
  for (int t = 0; t < 2; ++t) {
    CK_SESSION_HANDLE s = open_session();  // a session has one find at a time
    finders.emplace_back([&, t, s] {
      for (int i = 0; i < 300; ++i) {
        EXPECT_EQ(find_all(f(), s, by_label("pub-" + std::to_string((i + t) % kObjects))).size(),
                  1u);
      }
    });
  }
  for (auto& th : finders)
    th.join();
  writer.join();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(count("many-" + std::to_string(i)), 1u) << i;
  }
}

}  // namespace
}  // namespace twinhsm::test
