# Sourced by scripts/setup, scripts/check-distro and the benchmarks' scripts.

# install_missing PACKAGE...: installs the Debian packages among those given that are not
# installed yet (apt-get update first; sudo when not root); nothing when all are.
install_missing() {
    local p missing=() sudo=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "$(basename "$0"): installing ${missing[*]}" >&2
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}
