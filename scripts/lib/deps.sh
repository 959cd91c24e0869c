# Shared by scripts/run and scripts/test: installs the Debian packages Swiftlet needs when
# they are missing, running apt-get update at most once, with sudo only when not root.

swiftlet_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "swift is not on PATH: install the Swift 6 toolchain (https://swift.org/install) first." >&2
        exit 1
    fi
}

swiftlet_install_packages() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Packages the server needs to build and run.
SWIFTLET_BUILD_PACKAGES=(libevent-dev zlib1g-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev pkg-config build-essential)
