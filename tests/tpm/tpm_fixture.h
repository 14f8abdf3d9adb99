// Helpers of the TPM secure-element tests: devices personalized on swtpm through the `twinhsm`
// command, objects put and read through libtwinhsm.so (dlopen), and the attacker's tools (a copy
// of the directory pointed at another TPM, SQL on store.db).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "process.h"
#include "swtpm.h"
#include "temp_device.h"

namespace twinhsm::test {

// tpm_options are a test device's options on tpm (PBKDF2 1000, token initialized, insecure-auto
// button so that backups need no second command, 10 login failures: the TPM's 3 come first).
DeviceOptions tpm_options(const Swtpm& tpm, std::string diversifier = "tpm-pair");
// file_options are the same on a file secure element.
DeviceOptions file_options(std::string diversifier = "tpm-pair");

// cli runs `twinhsm args` and fails the test (returning "") unless it succeeds; cli_fails
// expects a failure and returns its stderr.
std::string cli(const std::vector<std::string>& args);
std::string cli_fails(const std::vector<std::string>& args);

// put_object stores a private CKO_DATA object (label, value) as the user; read_objects returns
// "label=value" of every data object the user sees, sorted; std::nullopt (and the CK_RV's name in
// *why) when the token cannot be used. Both load the module on a TWINHSM_CONF naming dir only.
void put_object(const std::filesystem::path& dir, const std::string& pin, const std::string& label,
                const std::string& value);
std::optional<std::vector<std::string>> read_objects(const std::filesystem::path& dir,
                                                     const std::string& pin,
                                                     std::string* why = nullptr);
// relabel gives the data object labelled from the label to (C_SetAttributeValue).
void relabel(const std::filesystem::path& dir, const std::string& pin, const std::string& from,
             const std::string& to);

// copy_device copies a device directory (nothing may have it open).
void copy_device(const std::filesystem::path& from, const std::filesystem::path& to);
// retarget rewrites the TCTI recorded in dir/secure-element (its checksum too): the directory now
// names another TPM, as an attacker holding a copy would make it.
void retarget(const std::filesystem::path& dir, const std::string& tcti);
// save_store copies store.db (and its WAL) to dir/name; put_back_store puts such a copy back.
void save_store(const std::filesystem::path& dir, const std::string& name);
void put_back_store(const std::filesystem::path& dir, const std::string& name);
// sql runs statements on dir/store.db with the sqlite3 library; returns false (and ADD_FAILURE)
// on an error.
bool sql(const std::filesystem::path& dir, const std::string& statements);

}  // namespace twinhsm::test
