// Moving data across the C boundary: caller templates into AttributeMaps, CK_MECHANISMs into
// token::Mechanism (parameters copied out of the caller's memory at once), output buffers with
// the two-call convention, and blank-padded PKCS#11 strings.
#pragma once

#include <cstring>
#include <string>

#include "common/bytes.h"
#include "common/pkcs11.h"
#include "token/attributes.h"
#include "token/mechanisms.h"

namespace twinhsm::pkcs11 {

// Limits on what a caller may claim, checked before anything is read: a count or length that
// lies about the caller's memory must not make the module read or write past it. Generous, far
// above any real use; whatever exceeds them is refused with CKR_ARGUMENTS_BAD, except an
// attribute value, which is refused as CKR_ATTRIBUTE_VALUE_INVALID.
inline constexpr CK_ULONG kMaxTemplateCount = CK_ULONG{1} << 20;  // attributes in a template
inline constexpr CK_ULONG kMaxAttributeLen = CK_ULONG{16} << 20;  // bytes of an attribute value
inline constexpr CK_ULONG kMaxDataLen = CK_ULONG{1} << 31;        // bytes of a call's data

// parse_template copies count attributes. Throws CKR_ARGUMENTS_BAD (NULL array with count > 0,
// or more than kMaxTemplateCount attributes), CKR_ATTRIBUTE_VALUE_INVALID (NULL value with a
// length, or a length over kMaxAttributeLen), CKR_TEMPLATE_INCONSISTENT (one type twice with
// different values).
token::AttributeMap parse_template(const CK_ATTRIBUTE* attrs, CK_ULONG count);
// Attributes whose value is itself a template (CK_ATTRIBUTE array): CKA_WRAP_TEMPLATE,
// CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE. parse_template copies such a value deeply and keeps
// it as the encoded AttributeMap of its attributes (never the caller's pointers);
// give_attribute hands it back by PKCS#11's rules for array attributes.
bool is_template_attribute(CK_ATTRIBUTE_TYPE type);

// give_attribute answers one attribute of C_GetAttributeValue from its stored value with the
// two-call convention (nested for template attributes): CKR_OK, or CKR_BUFFER_TOO_SMALL with
// ulValueLen CK_UNAVAILABLE_INFORMATION where the room was too small.
CK_RV give_attribute(CK_ATTRIBUTE& out, ByteView value);

// check_template_count throws CKR_ARGUMENTS_BAD for a NULL array with count > 0 or a count over
// kMaxTemplateCount (C_GetAttributeValue's template, which is not parsed).
void check_template_count(const CK_ATTRIBUTE* attrs, CK_ULONG count);

// parse_mechanism checks the mechanism is supported (CKR_MECHANISM_INVALID) and copies its
// parameter (CKR_MECHANISM_PARAM_INVALID when malformed).
token::Mechanism parse_mechanism(const CK_MECHANISM* mechanism);
// parse_message_mechanism is parse_mechanism for C_MessageEncryptInit/C_MessageDecryptInit: the
// AEADs take their parameter with each message, so none (NULL, 0) is what their init takes.
token::Mechanism parse_message_mechanism(const CK_MECHANISM* mechanism);

// give_output implements the two-call convention for an output of size bytes: with out NULL it
// stores the size and returns false (nothing produced yet); with a buffer too small it stores the
// size and throws CKR_BUFFER_TOO_SMALL; otherwise returns true and the caller writes. out_len
// must not be NULL (CKR_ARGUMENTS_BAD).
bool give_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, size_t size);
// copy_output writes data with the same convention; returns false for a size query.
bool copy_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, ByteView data);

// input returns a view of a caller's buffer; throws CKR_ARGUMENTS_BAD for NULL with a length or
// a length over kMaxDataLen.
ByteView input(const CK_BYTE* data, CK_ULONG len);
// check_output_length throws CKR_ARGUMENTS_BAD for a NULL buffer with a length or a length over
// kMaxDataLen (C_GenerateRandom, which writes len bytes).
void check_output_length(const CK_BYTE* out, CK_ULONG len);

// pad copies text into a fixed-size, blank-padded, not NUL-terminated PKCS#11 field.
template <size_t N>
void pad(unsigned char (&field)[N], std::string_view text) {
  std::memset(field, ' ', N);
  std::memcpy(field, text.data(), std::min(N, text.size()));
}

// unpad reads a blank-padded field (C_InitToken's label).
std::string unpad(const CK_UTF8CHAR* field, size_t n);

}  // namespace twinhsm::pkcs11
