# Shared by the integration test scripts: picks a TCP port for a program
# under test.  Ports come from 20000-31999, below the kernel's ephemeral
# range (32768 and up on Debian), where outgoing connections never take
# them, and a port with any socket on it is skipped.

# free_port: prints a port that nothing uses right now; fails after 50 tries.
free_port() {
	local port try
	for try in $(seq 1 50); do
		port=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; then
			echo "$port"
			return 0
		fi
	done
	echo "free_port: no free port found in 20000-31999 after $try tries" >&2
	return 1
}
