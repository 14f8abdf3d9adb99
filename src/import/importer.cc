#include "import/importer.h"

#include "common/error.h"
#include "import/target.h"
#include "store/store.h"
#include "token/ck_error.h"

namespace twinhsm::import {

ImportResult plan_import(const std::vector<SourceObject>& objects, const ImportOptions& options) {
  ImportResult result;
  std::string refused;
  for (const SourceObject& source : objects) {
    Candidate c;
    try {
      c = plan_object(source);
    } catch (const std::exception& e) {
      throw IntegrityError("the SoftHSMv2 object " + source.file + " has a malformed attribute (" +
                           e.what() + "); nothing was imported");
    }
    if (c.unsupported.empty()) {
      result.imported.push_back(std::move(c));
    } else {
      refused += (refused.empty() ? "" : "; ") + c.describe() + ": " + c.unsupported;
      result.skipped.push_back(std::move(c));
    }
  }
  if (!refused.empty() && !options.skip_unsupported) {
    throw UsageError("twinhsm cannot hold " + std::to_string(result.skipped.size()) +
                     " object(s) of the SoftHSMv2 token: " + refused +
                     "; nothing was imported (--skip-unsupported imports the others)");
  }
  return result;
}

void import_objects(token::Token& t, ImportResult& plan, const ImportOptions& options) {
  store::Store::WriteTransaction tx(t.store());
  // Checked against the token as it was: two SoftHSMv2 objects alike are not each other's copy.
  for (const Candidate& c : plan.imported) {
    if (already_present(t, c)) {
      throw UsageError("the twinhsm token already holds an object like " + c.describe() +
                       " (same class, CKA_ID and CKA_LABEL; imported before?); nothing was "
                       "imported");
    }
  }
  for (const Candidate& c : plan.imported) {
    try {
      if (make_object(t, c, options.narrow_usage)) {
        plan.narrowed.push_back(c.describe());
      }
    } catch (const token::CkError& e) {
      bool mixed_uses = e.rv() == CKR_TEMPLATE_INCONSISTENT && strict_key_policy(t);
      throw Error("cannot import " + c.describe() + ": " + e.what() +
                  (mixed_uses ? " (SoftHSMv2 gives its keys every usage unless told otherwise; "
                                "--narrow-usage imports such keys without CKA_WRAP/CKA_UNWRAP, "
                                "'twinhsm device set-key-policy compatible' lets twinhsm hold "
                                "them as they are)"
                              : "") +
                  "; nothing was imported");
    } catch (const std::exception& e) {
      throw Error("cannot import " + c.describe() + ": " + e.what() + "; nothing was imported");
    }
  }
  if (!options.dry_run) {
    tx.commit();
  }
}

}  // namespace twinhsm::import
