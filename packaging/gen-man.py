#!/usr/bin/python3
"""Writes the man page twinhsm(1) from the command's own help.

Usage: gen-man.py PATH/TO/twinhsm OUTPUT.1

Runs `twinhsm --help`, then `twinhsm COMMAND --help` for every command and subcommand it lists
(recursively), and turns each help text (CLI11's format: a description line, "Usage: ...", then
"Positionals:", "Options:" and "Subcommands:" sections) into one section of the page. The page
therefore says exactly what --help says; nothing is written by hand here except the sections
about the PKCS#11 module's environment, files and the other documentation.
"""
import os
import re
import subprocess
import sys

cli, output = sys.argv[1], sys.argv[2]

# The default --device shown by the help depends on $HOME / $XDG_DATA_HOME: show it as "~/...".
env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "TWINHSM_CONF")}
env["HOME"] = "~"
env["LC_ALL"] = "C"


def help_text(path):
    r = subprocess.run([cli, *path, "--help"], capture_output=True, text=True, env=env, check=True)
    return r.stdout


def parse(text):
    """-> description, usage, {section: [(names, description)]}"""
    lines = text.splitlines()
    description, usage, sections, section = [], "", {}, None
    entries = None
    for line in lines:
        if line.startswith("Usage: "):
            usage = line[len("Usage: "):]
            # the binary's path as it was run -> its name
            usage = re.sub(r"^\S*twinhsm", "twinhsm", usage)
            continue
        m = re.match(r"^(\w[\w ]*):$", line)
        if m and usage:
            section = m.group(1)
            entries = sections.setdefault(section, [])
            continue
        if section is None:
            if line.strip() and not usage:
                description.append(line.strip())
            continue
        if not line.strip():
            continue
        # "  name TYPE   description": the description starts at CLI11's column (30) or, for a
        # long name, on the next line indented to that column.
        if re.match(r"^ {2}\S", line):
            # "  NAME  DESCRIPTION", or a NAME of exactly 27 characters and one space, or a long
            # NAME alone (its description follows on the next line, indented).
            parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            if len(parts) == 2:
                name, desc = parts
            elif len(line) > 30 and line[29] == " ":
                name, desc = line[2:29], line[30:].strip()
            else:
                name, desc = line.strip(), ""
            entries.append([name, desc])
        elif entries:
            entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
    return " ".join(description), usage, sections


def esc(s):
    s = s.replace("\\", "\\\\").replace("-", "\\-")
    # a line starting with . or ' is a roff request
    return re.sub(r"^([.'])", r"\\&\1", s)


out = []
top_desc, top_usage, top_sections = parse(help_text([]))
version = subprocess.run([cli, "--version"], capture_output=True, text=True, env=env).stdout.strip()
version = version.split()[-1] if version else ""

out.append('.TH TWINHSM 1 "" "twinhsm %s" "User Commands"' % esc(version))
out.append(".SH NAME")
out.append("twinhsm \\- manage twinhsm devices, tokens, PINs and backups")
out.append(".SH SYNOPSIS")
out.append(".B twinhsm")
out.append("\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR] [\\fIOPTIONS\\fR]")
out.append(".br")
out.append(".B twinhsm")
out.append("\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR] \\fB\\-\\-help\\fR")
out.append(".SH DESCRIPTION")
out.append(esc(top_desc))
out.append(".PP")
out.append("Every command and option below is printed by \\fBtwinhsm\\fR [\\fICOMMAND\\fR ...] "
           "\\fB\\-\\-help\\fR; this page is generated from that output.")
out.append(".SH OPTIONS")
for name, desc in top_sections.get("Options", []):
    out.append(".TP")
    out.append(".B " + esc(name))
    out.append(esc(desc))


def emit(path, depth):
    desc, usage, sections = parse(help_text(path))
    subs = sections.get("Subcommands", [])
    if depth == 1:
        out.append(".SH %s" % esc("twinhsm " + " ".join(path)).upper().replace("\\-", "\\-"))
        out.append(esc(desc))
        if subs:
            return [s for s, _ in subs]
    out.append('.SS "%s"' % esc(usage))
    out.append(esc(desc))
    for section in ("Positionals", "Options"):
        items = [(n, d) for n, d in sections.get(section, []) if not n.startswith("-h,--help")]
        if not items:
            continue
        for name, d in items:
            out.append(".TP")
            out.append(".B " + esc(name))
            out.append(esc(d))
    return [s for s, _ in subs]


def walk(path, depth):
    for sub in emit(path, depth):
        walk(path + [sub], depth + 1)


out.append(".SH COMMANDS")
for name, desc in top_sections.get("Subcommands", []):
    out.append(".TP")
    out.append(".B " + esc(name))
    out.append(esc(desc))
for name, _ in top_sections.get("Subcommands", []):
    walk([name], 1)

out += r"""
.SH PINS
A PIN comes from \fB\-\-pin\fR \fIVALUE\fR (visible in ps), \fB\-\-pin\-file\fR \fIFILE\fR (its first
line), \fB\-\-pin\-env\fR \fIVAR\fR, or a no\-echo prompt on the terminal; likewise
\fB\-\-so\-pin\fR*, \fB\-\-new\-pin\fR* and, for \fBimport softhsm2\fR, \fB\-\-softhsm\-pin\fR*.
.SH EXIT STATUS
0 on success, 1 when the operation failed, 2 for a usage error. Every failure is one line on
standard error, starting with "twinhsm: ".
.SH ENVIRONMENT
.TP
.B XDG_DATA_HOME
The default device is \fB$XDG_DATA_HOME/twinhsm\fR, else \fB~/.local/share/twinhsm\fR.
.TP
.B TWINHSM_CONF
Read by the PKCS#11 module \fBlibtwinhsm.so\fR: a TOML file with one \fB[[slot]]\fR table per device
(\fBdevice = "DIR"\fR); slot ids 0, 1, ... in file order.
.TP
.BR TWINHSM_LOG =debug ", " TWINHSM_LOG_FILE
Make the PKCS#11 module log every call with its return code (to stderr or the file); never a key,
PIN or data.
.SH FILES
.TP
.I /usr/lib/x86_64\-linux\-gnu/pkcs11/libtwinhsm.so
The PKCS#11 module applications load.
.TP
.I /usr/share/p11\-kit/modules/twinhsm.module
Registers the module with p11\-kit (\fBp11\-kit list\-modules\fR).
.TP
.I DEVICE/secure\-element, DEVICE/store.db
A device directory (mode 0700): the simulated secure element and the object store.
.TP
.I DEVICE/button.sock
The socket button's socket, while a command waits for a press.
.SH SEE ALSO
.BR p11\-kit (8),
.BR pkcs11\-tool (1),
.BR p11tool (1),
.BR ssh\-keygen (1).
The recipes for OpenSSL, GnuTLS, SSH, Java, Python and the isolated mode (\fBp11\-kit server\fR)
are in \fI/usr/share/doc/twinhsm/clients.md\fR; the rest of the documentation is beside it.
""".strip("\n").splitlines()

with open(output, "w") as f:
    f.write("\n".join(out) + "\n")
