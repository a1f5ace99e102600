# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared by scripts/setup.sh and scripts/stack.sh (sourced, not run): the
# pinned Kafka version and where the tools that live outside the clone are
# installed. Change the version here and nowhere else.

# Apache Kafka from Maven Central. Kafka 4 dropped old protocol versions, so
# tests/integration/kafka_compat checks this version against Debian 12's
# librdkafka 2.0.2; docs/local-stack.md lists the versions it negotiates.
MA_KAFKA_VERSION="${MA_KAFKA_VERSION:-4.1.1}"

# Installed tools are shared by every clone on the machine, so a second clone
# or a CI run finds them in place and downloads nothing.
MA_TOOLS_DIR="${MA_TOOLS_DIR:-/opt/mina-arenden}"
MA_KAFKA_HOME="$MA_TOOLS_DIR/kafka-$MA_KAFKA_VERSION"
MA_KAFKA_MARKER="$MA_KAFKA_HOME/.installed"

# PostgreSQL 15 server binaries from Debian's postgresql-15 package.
MA_PG_BINDIR="${MA_PG_BINDIR:-/usr/lib/postgresql/15/bin}"

# Runs a command as root: directly when already root, through sudo otherwise.
ma_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}
