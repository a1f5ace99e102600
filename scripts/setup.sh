#!/usr/bin/env bash
# Installs what building, testing and the local stack need on Debian 12:
# the Debian packages listed below and the Apache Kafka broker's jars (from
# Maven Central, through the machine's Maven) into $MA_TOOLS_DIR.
#
# Idempotent: packages are checked with dpkg-query and only missing ones are
# installed (apt-get update runs only then); Kafka is skipped when its
# install marker exists. A second run installs and downloads nothing.
# Runs as root or as a user with sudo. Safe without a terminal (CI=true).
#
# Environment:
#   MA_TOOLS_DIR      install root for Kafka (default /opt/mina-arenden)
#   MA_KAFKA_VERSION  Kafka version (default pinned in scripts/lib-stack.sh)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib-stack.sh
. "$script_dir/lib-stack.sh"

log() { printf 'setup: %s\n' "$*"; }
die() {
	printf 'setup: %s\n' "$*" >&2
	exit 1
}

packages=(
	build-essential cmake ninja-build pkg-config
	librdkafka-dev libavro-dev libpq-dev libmosquitto-dev
	libcmocka-dev libjansson-dev libmicrohttpd-dev libcsv-dev libxml2-dev
	libssl-dev libgnutls28-dev
	clang clang-format libclang-rt-14-dev
	mosquitto mosquitto-clients postgresql kcat
	# Used by scripts/stack.sh: ss, ps and setpriv/flock.
	iproute2 procps util-linux
	# The browser test of the overview page (tests/browser) drives
	# Debian's Chromium, since Playwright's own browser download is not
	# used.
	chromium
)

# Returns 0 when dpkg reports the package as installed ("ii").
package_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
	[ "${status:0:2}" = "ii" ]
}

# Prints the major version of the java on PATH, or nothing.
java_major_version() {
	command -v java >/dev/null 2>&1 || return 0
	java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

install_packages() {
	local missing=() package java_major

	# A Java 17+ or a Maven that is already on PATH is used as it is, even
	# when it did not come from Debian's packages.
	java_major=$(java_major_version)
	if [ -n "$java_major" ] && [ "$java_major" -ge 17 ]; then
		log "java $java_major found at $(command -v java), not installing openjdk-17-jre-headless"
	else
		packages+=(openjdk-17-jre-headless)
	fi
	# A node and npm on PATH are used as they are; tests/browser needs
	# Node.js 20 or later.
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		log "node $(node --version) found at $(command -v node), not installing nodejs and npm"
	else
		packages+=(nodejs npm)
	fi
	if command -v mvn >/dev/null 2>&1; then
		log "mvn found at $(command -v mvn), not installing maven"
	else
		packages+=(maven)
	fi

	for package in "${packages[@]}"; do
		package_installed "$package" || missing+=("$package")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		log "nothing to install (all ${#packages[@]} packages present)"
		return 0
	fi

	log "installing ${#missing[@]} missing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	ma_as_root apt-get update
	ma_as_root apt-get install -y --no-install-recommends "${missing[@]}"
}

# Copies Kafka's runtime jars into $MA_KAFKA_HOME/libs. The jars go to a
# temporary folder first so an interrupted download never looks complete.
install_kafka() {
	local libs="$MA_KAFKA_HOME/libs" partial="$MA_KAFKA_HOME/libs.partial"
	local mvn_log

	if [ -f "$MA_KAFKA_MARKER" ]; then
		log "Kafka $MA_KAFKA_VERSION already installed in $MA_KAFKA_HOME, nothing to download"
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || die "cannot install Kafka: mvn not found on PATH. Install maven and run this script again."

	if ! mkdir -p "$MA_KAFKA_HOME" 2>/dev/null; then
		log "creating $MA_TOOLS_DIR with root rights"
		ma_as_root mkdir -p "$MA_KAFKA_HOME"
		ma_as_root chown "$(id -u):$(id -g)" "$MA_TOOLS_DIR" "$MA_KAFKA_HOME"
	fi

	log "fetching Kafka $MA_KAFKA_VERSION jars with Maven into $libs"
	rm -rf "$partial"
	mvn_log=$(mktemp)
	if ! mvn -q -B -f "$script_dir/kafka/pom.xml" \
		-Dkafka.version="$MA_KAFKA_VERSION" \
		dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$partial" \
		</dev/null >"$mvn_log" 2>&1; then
		cat "$mvn_log" >&2
		rm -f "$mvn_log"
		die "could not fetch Kafka $MA_KAFKA_VERSION with Maven (output above). Check that Maven Central is reachable and the version exists."
	fi
	rm -f "$mvn_log"

	[ -f "$partial/kafka_2.13-$MA_KAFKA_VERSION.jar" ] ||
		die "Maven finished but $partial/kafka_2.13-$MA_KAFKA_VERSION.jar is missing; scripts/kafka/pom.xml no longer pulls in the broker."

	rm -rf "$libs"
	mv "$partial" "$libs"
	printf 'kafka %s\ninstalled %s\njars %s\n' "$MA_KAFKA_VERSION" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(find "$libs" -name '*.jar' | wc -l)" \
		>"$MA_KAFKA_MARKER"
	log "Kafka $MA_KAFKA_VERSION installed: $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
}

# Python modules the API tests use to check responses against
# docs/openapi.yaml.  Installed with pip only when an import fails.
install_python_modules() {
	local missing=()
	python3 -c 'import yaml' 2>/dev/null || missing+=("PyYAML==6.0.3")
	python3 -c 'import openapi_schema_validator' 2>/dev/null ||
		missing+=("openapi-schema-validator==0.9.0")
	python3 -c 'import openapi_spec_validator' 2>/dev/null ||
		missing+=("openapi-spec-validator==0.9.0")
	# Schemathesis's `st` sends generated bad requests to the API
	# (integration.api.fuzz).
	python3 -c 'import schemathesis' 2>/dev/null ||
		missing+=("schemathesis==4.32.5")
	if [ "${#missing[@]}" -eq 0 ]; then
		log "Python modules present, nothing to install"
		return
	fi
	log "installing Python modules: ${missing[*]}"
	python3 -m pip install --quiet "${missing[@]}" </dev/null ||
		die "could not install the Python modules ${missing[*]} with pip; check that the Python package index is reachable"
}

# playwright-core for the browser test, at the versions of
# tests/browser/package-lock.json; only when node_modules is missing.
install_browser_test() {
	local dir="$script_dir/../tests/browser"

	if [ -d "$dir/node_modules/playwright-core" ]; then
		log "tests/browser/node_modules present, nothing to install"
		return
	fi
	log "installing the browser test's npm packages (npm ci --prefix tests/browser)"
	npm ci --prefix "$dir" --no-audit --no-fund </dev/null ||
		die "could not install tests/browser's npm packages with npm ci; check that the npm registry is reachable"
}

install_packages
install_kafka
install_python_modules
install_browser_test
log "done"
