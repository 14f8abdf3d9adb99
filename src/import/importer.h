// import_objects moves a SoftHSMv2 token's objects into a twinhsm token: all of them, or none.
#pragma once

#include <vector>

#include "import/plan.h"
#include "token/token.h"

namespace twinhsm::import {

struct ImportOptions {
  bool dry_run = false;           // do everything, then roll back
  bool skip_unsupported = false;  // leave out what twinhsm cannot hold instead of refusing
  // Under the strict key policy, drop CKA_WRAP and CKA_UNWRAP from a hidden key that also
  // encrypts or decrypts (SoftHSMv2 gives its keys every usage) instead of refusing it.
  bool narrow_usage = false;
};

struct ImportResult {
  std::vector<Candidate> imported;    // imported, or (dry run) that would be
  std::vector<Candidate> skipped;     // unsupported, left out with skip_unsupported
  std::vector<std::string> narrowed;  // with narrow_usage: the keys whose wrapping was dropped
};

// plan_import plans every object. Throws UsageError naming every object twinhsm cannot hold
// unless skip_unsupported, and IntegrityError naming an object whose attributes are malformed.
ImportResult plan_import(const std::vector<SourceObject>& objects, const ImportOptions& options);

// import_objects creates the planned objects in t, the user logged in, inside one store write
// transaction: committed only when every object was created and unless dry_run. Throws
// UsageError naming the first object that is already in t (same class, CKA_ID, CKA_LABEL), Error
// naming the first one the token refuses, with its reason; nothing is written then.
// With narrow_usage, plan.narrowed names the keys that lost CKA_WRAP/CKA_UNWRAP.
void import_objects(token::Token& t, ImportResult& plan, const ImportOptions& options);

}  // namespace twinhsm::import
