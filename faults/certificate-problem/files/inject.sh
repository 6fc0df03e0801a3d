#!/bin/sh
# inject.sh VARIANT OLD_BUNDLE
set -eu
ca=/usr/local/share/ca-certificates/corp-lab-ca.crt
bundle=/etc/ssl/certs/ca-certificates.crt

# swap_in_bundle OLD NEW: the store as update-ca-certificates would leave it after OLD's
# certificate became NEW (empty: removed). Under emulation update-ca-certificates runs a few
# processes per CA and takes one to two minutes; one pass over the bundle gives the same bytes.
swap_in_bundle() {
    python3 - "$1" "$2" "$bundle" <<'PY' || update-ca-certificates --fresh >/dev/null 2>&1
import sys
old, new, bundle = sys.argv[1:4]
def pem(path):
    if not path:
        return ""
    text = open(path).read()
    return text if text.endswith("\n") else text + "\n"
data, was = open(bundle).read(), pem(old)
if not was or was not in data:
    sys.exit(1)
with open(bundle + ".new", "w") as f:
    f.write(data.replace(was, pem(new)))
import os
os.chmod(bundle + ".new", 0o644)
os.replace(bundle + ".new", bundle)
PY
}

case "$1" in
ca-removed)
    if [ -f "$ca" ]; then
        swap_in_bundle "$ca" ""
        rm -f "$ca"
    fi
    # The store's links to it (corp-lab-ca.pem and its hash link), now dangling.
    find -L /etc/ssl/certs -maxdepth 1 -type l -delete
    ;;
ca-replaced)
    tmp=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" -out "$tmp/c" \
        -subj "/O=corp.lab/CN=corp.lab lab CA" -days 3650 2>/dev/null
    # Same subject, so the hash link keeps its name; only the certificate changes.
    swap_in_bundle "$ca" "$tmp/c"
    install -m 644 "$tmp/c" "$ca"
    rm -rf "$tmp"
    ;;
old-bundle)
    # An old bundle: the public CAs only, as it was before the company CA was added.
    install -d "$(dirname "$2")"
    cat /usr/share/ca-certificates/mozilla/*.crt > "$2"
    # curl ignores CURL_CA_BUNDLE for its CA folder (/etc/ssl/certs, where the company CA
    # still is); the legacy application's curl settings (CURL_HOME) name both the bundle and
    # a folder without the company CA, so the user's curl really stops trusting the intranet.
    printf 'cacert = "%s"\ncapath = "%s"\n' "$2" "$(dirname "$2")" > "$(dirname "$2")/.curlrc"
    printf '# Legacy application certificates\nexport SSL_CERT_FILE=%s\nexport CURL_CA_BUNDLE=%s\nexport CURL_HOME=%s\n' \
        "$2" "$2" "$(dirname "$2")" > /etc/profile.d/legacy-certs.sh
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
