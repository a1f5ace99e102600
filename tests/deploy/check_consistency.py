#!/usr/bin/env python3
"""Check docker/ against the programs, the native scripts and the docs.

Each check compares two files and, on a mismatch, prints one line naming
the variable, port, image or program and both files:

- every MA_* variable a compose service sets is a setting of a program
  that service runs.  The name comes from the C configuration table: MA_
  and the setting in upper case with dots and dashes as underscores, as
  lib/src/config.c builds it.  Every MA_* variable that compose
  interpolates is such a setting or a variable of scripts/*.sh;
- every variable compose interpolates is documented in docker/.env.example,
  and every variable there is used;
- the ports of ma-gateway, ma-api and the metrics endpoints in compose
  (environment, published container port, healthcheck URL, EXPOSE) equal
  the defaults of the configuration tables, and the docs agree with those
  tables; the host ports of Kafka, PostgreSQL and Mosquitto default to the
  dev stack's ports of scripts/stack.sh;
- the images' versions equal the native ones (Kafka, PostgreSQL,
  Mosquitto, Debian);
- every program that serves a port (a setting listen.port or metrics.port)
  runs as a compose service, and the Dockerfile builds every ma-* program
  that CMake builds;
- every setting that scripts/demo.sh gives a service it starts (a flag, a
  MA_* variable before the command, or an exported MA_* variable) is set
  in that program's compose service too, except the few that only the
  local demo needs (NATIVE_ONLY).

--self-test also runs the checks on broken copies and fails unless each
break is reported.  Needs PyYAML (python3-yaml); without it the test is
skipped (exit 77).
"""

import argparse
import copy
import glob
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    print("deploy.consistency: skipped: PyYAML is not installed "
          "(apt-get install python3-yaml)")
    sys.exit(77)

SKIP_DIRS = re.compile(r"^(build|build-.*|\.run|\.git|node_modules|\.cache)$")

# Which document describes each service's settings, for the port checks.
PROGRAM_DOCS = {
    "ma-gateway": "docs/gateway.md",
    "ma-processor": "docs/processor.md",
    "ma-api": "docs/api.md",
    "ma-notifier": "docs/notifier.md",
}

PORT_SETTINGS = ("listen.port", "metrics.port")

# Settings scripts/demo.sh gives its services that compose leaves out on
# purpose: the demo's own ports (compose uses the defaults), retention off
# for the demo's logs of 2005 and 2011, and the demo's sign-in users.
NATIVE_ONLY = {"listen.port", "metrics.port", "retention.interval",
               "ui.demo-users"}


def env_name(setting):
    """Return the environment variable of a setting, as config.c builds it."""
    return "MA_" + re.sub(r"[.\-]", "_", setting).upper()


def read(repo, path):
    with open(os.path.join(repo, path), encoding="utf-8") as handle:
        return handle.read()


# ---------------------------------------------------------------------------
# Sources of truth: CMake, the C configuration tables, the native scripts
# ---------------------------------------------------------------------------


def cmake_programs(repo):
    """Map each ma-* executable to its source files (repository paths)."""
    programs = {}
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if not SKIP_DIRS.match(d)]
        if "CMakeLists.txt" not in files:
            continue
        path = os.path.join(root, "CMakeLists.txt")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for match in re.finditer(r"add_executable\(\s*(ma-[\w-]+)\s+([^)]*)\)",
                                 text):
            sources = []
            for word in match.group(2).split():
                word = word.replace("${CMAKE_CURRENT_SOURCE_DIR}/", "")
                if word.endswith(".c"):
                    sources.append(os.path.relpath(os.path.join(root, word),
                                                   repo))
            programs[match.group(1)] = sources
    return programs


ENTRY_RE = re.compile(
    r'\{\s*"([a-z0-9.\-]+)",\s*MA_CONFIG_(\w+),\s*(?:NULL|"[^"]*"),\s*'
    r'(NULL|"(?:[^"\\]|\\.)*"|[A-Z_][A-Z0-9_]*(?:\s*"[^"]*")?)', re.S)
TABLE_RE = re.compile(r"ma_config_entry_t\s+\w+\[\]\s*=\s*\{(.*?)\n\};", re.S)


def config_settings(repo, sources):
    """Return {setting name: default text or None} of the tables in sources."""
    settings = {}
    for source in sources:
        text = read(repo, source)
        for table in TABLE_RE.finditer(text):
            for entry in ENTRY_RE.finditer(table.group(1)):
                default = entry.group(3)
                if default.startswith('"'):
                    default = default[1:-1]
                elif default == "NULL":
                    default = None
                settings[entry.group(1)] = default
    return settings


def script_variables(repo):
    """Return the MA_* names that scripts/*.sh read or set."""
    names = set()
    for path in glob.glob(os.path.join(repo, "scripts", "*.sh")):
        with open(path, encoding="utf-8") as handle:
            names.update(re.findall(r"\bMA_[A-Z0-9_]+\b", handle.read()))
    return names


def demo_service_settings(text):
    """Return {program: {setting or MA_* variable}} that the start_program
    commands of scripts/demo.sh give each program.

    A command is a run of lines joined by trailing backslashes.  Flags
    (--name) are returned as settings, MA_* assignments in the command and
    MA_* variables the script exports as variables."""
    exported = set(re.findall(r"^export\s+(MA_[A-Z0-9_]+)", text, re.M))
    commands = re.sub(r"\\\n", " ", text).splitlines()
    result = {}
    for command in commands:
        match = re.search(r"\bstart_program\s+(ma-[\w-]+)\s", command)
        if not match:
            continue
        found = set(re.findall(r"\s--([a-z][a-z0-9.\-]*)", command))
        found.update(re.findall(r"\b(MA_[A-Z0-9_]+)=", command))
        found.update(exported)
        result[match.group(1)] = found
    return result


def dev_stack_ports(repo):
    """Return the dev stack's (kafka, controller, postgres, mqtt) ports."""
    text = read(repo, "scripts/stack.sh")
    match = re.search(r"\*\)\s*default_ports=\(([0-9 ]+)\)", text)
    if not match:
        return None
    return [int(p) for p in match.group(1).split()]


# ---------------------------------------------------------------------------
# Compose helpers
# ---------------------------------------------------------------------------


def service_environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        result = {}
        for item in env:
            key, _, value = item.partition("=")
            result[key] = value
        return result
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def service_words(service):
    words = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            words.extend(value.split())
        elif isinstance(value, list):
            for item in value:
                words.extend(str(item).split())
    return words


def service_programs(service, programs):
    """Return the ma-* programs a service's entrypoint and command run."""
    found = []
    for word in service_words(service):
        word = word.strip("'\";&|()")
        if word in programs and word not in found:
            found.append(word)
    return found


def interpolated(text):
    """Return the variable names of ${NAME...} in compose text ($$ escapes)."""
    text = text.replace("$$", "")
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def interpolation_default(text, name):
    match = re.search(r"\$\{" + re.escape(name) + r":?-([^}]*)\}", text)
    return match.group(1) if match else None


def published_ports(service):
    """Return (host part, container port) of each ports entry."""
    result = []
    for item in service.get("ports") or []:
        if isinstance(item, dict):
            result.append((str(item.get("published", "")),
                           int(item["target"])))
            continue
        text = str(item)
        # host part may hold ${...:-...} with colons inside, so split from
        # the right: the last field is the container port.
        head, _, target = text.rpartition(":")
        result.append((head, int(target.split("/")[0])))
    return result


def healthcheck_ports(service):
    test = (service.get("healthcheck") or {}).get("test") or []
    text = " ".join(test) if isinstance(test, list) else str(test)
    return [int(p) for p in re.findall(r"//(?:127\.0\.0\.1|localhost):(\d+)/",
                                       text)]


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


class Checker:
    def __init__(self, repo, compose_text, env_example, dockerfile):
        self.repo = repo
        self.compose_text = compose_text
        self.compose = yaml.safe_load(compose_text)
        self.env_example = env_example
        self.dockerfile = dockerfile
        self.programs = cmake_programs(repo)
        self.settings = {p: config_settings(repo, s)
                         for p, s in self.programs.items()}
        self.errors = []

    def error(self, message):
        self.errors.append(message)

    def source_of(self, program):
        return ", ".join(self.programs[program]) or "its CMakeLists.txt"

    def program_env_names(self, program):
        return {env_name(s): s for s in self.settings[program]}

    def served_programs(self):
        return sorted(p for p, s in self.settings.items()
                      if any(k in s for k in PORT_SETTINGS))

    def check_service_environment(self):
        services = self.compose.get("services") or {}
        for name, service in services.items():
            env = service_environment(service)
            runs = service_programs(service, self.programs)
            for var in sorted(env):
                if not var.startswith("MA_") or var == "MA_CONFIG":
                    continue
                if not runs:
                    self.error(
                        f"docker/compose.yaml: service {name} sets {var} but "
                        f"runs no ma-* program; nothing reads it")
                    continue
                if not any(var in self.program_env_names(p) for p in runs):
                    where = "; ".join(f"{p} ({self.source_of(p)})"
                                      for p in runs)
                    self.error(
                        f"docker/compose.yaml: service {name} sets {var}, "
                        f"but no setting of {where} has that environment "
                        f"name")

    def check_interpolation(self):
        all_env = set()
        for program in self.programs:
            all_env.update(self.program_env_names(program))
        scripts = script_variables(self.repo)
        used = interpolated(self.compose_text)
        documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=",
                                    self.env_example, re.M))
        for var in sorted(used):
            if var.startswith("MA_") and var not in all_env | scripts:
                self.error(
                    f"docker/compose.yaml interpolates {var}, which is "
                    f"neither a setting in any program's configuration "
                    f"table nor a variable of scripts/*.sh")
            if var not in documented:
                self.error(
                    f"docker/compose.yaml interpolates {var}, but "
                    f"docker/.env.example does not document it")
        for var in sorted(documented - used):
            self.error(
                f"docker/.env.example documents {var}, but "
                f"docker/compose.yaml does not use it")

    def check_ports(self):
        services = self.compose.get("services") or {}
        exposed = set()
        for line in re.findall(r"^EXPOSE\s+(.*)$", self.dockerfile, re.M):
            exposed.update(int(p) for p in line.split())
        for name, service in services.items():
            env = service_environment(service)
            for program in service_programs(service, self.programs):
                for setting in PORT_SETTINGS:
                    self.check_one_port(name, service, env, program, setting,
                                        exposed)

    def check_one_port(self, name, service, env, program, setting, exposed):
        table = self.settings[program]
        if setting not in table:
            return
        default = int(table[setting])
        var = env_name(setting)
        source = self.source_of(program)
        port = default
        if var in env:
            port = int(env[var])
            if port != default:
                self.error(
                    f"port mismatch: docker/compose.yaml service {name} sets "
                    f"{var}={port}, but {setting} of {program} defaults to "
                    f"{default} in {source}")

        health = healthcheck_ports(service)
        if health and port not in health and setting == self.health_setting(
                table):
            self.error(
                f"port mismatch: the healthcheck of service {name} in "
                f"docker/compose.yaml uses port {health[0]}, but {program} "
                f"serves /ready on {setting} {port} ({source})")

        targets = [t for _, t in published_ports(service)]
        if setting == "listen.port" and port not in targets:
            self.error(
                f"port mismatch: service {name} in docker/compose.yaml does "
                f"not publish container port {port} ({setting} of {program} "
                f"in {source})")
        for _, target in published_ports(service):
            if target not in self.service_ports(program, env):
                self.error(
                    f"port mismatch: service {name} in docker/compose.yaml "
                    f"publishes container port {target}, where {program} "
                    f"listens on none ({source})")

        if port not in exposed:
            self.error(
                f"port mismatch: docker/Dockerfile does not EXPOSE {port} "
                f"({setting} of {program} in {source})")
        self.check_doc_port(program, setting, default, source)

    @staticmethod
    def health_setting(table):
        """Return the setting whose port serves /ready for a program."""
        return "metrics.port" if "metrics.port" in table else "listen.port"

    def service_ports(self, program, env):
        ports = set()
        for setting in PORT_SETTINGS:
            if setting in self.settings[program]:
                value = env.get(env_name(setting),
                                self.settings[program][setting])
                ports.add(int(value))
        return ports

    def check_doc_port(self, program, setting, default, source):
        doc = PROGRAM_DOCS.get(program)
        if doc is None or not os.path.exists(os.path.join(self.repo, doc)):
            return
        for line in read(self.repo, doc).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 2 or f"`{setting}`" not in cells[0]:
                continue
            if not re.search(rf"\b{default}\b", cells[1]):
                self.error(
                    f"port mismatch: {doc} documents {setting} of {program} "
                    f"as {cells[1]}, but {source} defaults to {default}")

    def check_host_ports(self):
        ports = dev_stack_ports(self.repo)
        if ports is None:
            self.error("scripts/stack.sh: no dev-stack default_ports line "
                       "found; the host port check cannot run")
            return
        expected = {"MA_KAFKA_PORT": ports[0], "MA_PG_PORT": ports[2],
                    "MA_MQTT_PORT": ports[3]}
        for var, port in expected.items():
            value = interpolation_default(self.compose_text, var)
            if value is None:
                self.error(f"docker/compose.yaml does not publish a host "
                           f"port with ${{{var}:-...}} as scripts/stack.sh "
                           f"names it")
            elif int(value) != port:
                self.error(
                    f"port mismatch: docker/compose.yaml defaults {var} to "
                    f"{value}, but the dev stack of scripts/stack.sh uses "
                    f"{port}")

    def image_tag(self, service_name):
        service = (self.compose.get("services") or {}).get(service_name)
        if not service or "image" not in service:
            self.error(f"docker/compose.yaml has no service {service_name} "
                       f"with an image")
            return None
        image = str(service["image"])
        return image.partition(":")[2]

    def check_versions(self):
        lib_stack = read(self.repo, "scripts/lib-stack.sh")
        kafka = re.search(r'MA_KAFKA_VERSION="\$\{MA_KAFKA_VERSION:-([^}]+)\}"',
                          lib_stack)
        tag = self.image_tag("kafka")
        if kafka and tag is not None and tag != kafka.group(1):
            self.error(
                f"version mismatch: docker/compose.yaml runs apache/kafka:"
                f"{tag}, but scripts/lib-stack.sh pins MA_KAFKA_VERSION "
                f"{kafka.group(1)}")
        pg = re.search(r"/usr/lib/postgresql/(\d+)/bin", lib_stack)
        tag = self.image_tag("postgres")
        if pg and tag is not None and tag.split(".")[0] != pg.group(1):
            self.error(
                f"version mismatch: docker/compose.yaml runs postgres:{tag}, "
                f"but scripts/lib-stack.sh uses PostgreSQL {pg.group(1)}")
        stack_doc = read(self.repo, "docs/local-stack.md")
        mqtt = re.search(r"^\|\s*Mosquitto\s*\|\s*(\d+)\.", stack_doc, re.M)
        tag = self.image_tag("mosquitto")
        if mqtt and tag is not None and tag.split(".")[0] != mqtt.group(1):
            self.error(
                f"version mismatch: docker/compose.yaml runs "
                f"eclipse-mosquitto:{tag}, but docs/local-stack.md pins "
                f"Mosquitto {mqtt.group(1)}")
        for what, found in (("Kafka", kafka), ("PostgreSQL", pg),
                            ("Mosquitto", mqtt)):
            if found is None:
                self.error(f"could not find the native {what} version in "
                           f"scripts/lib-stack.sh or docs/local-stack.md")
        debian = re.search(r"on Debian (\d+)", read(self.repo,
                                                     "scripts/setup.sh"))
        froms = re.findall(r"^ARG DEBIAN_IMAGE=debian:(\S+)$", self.dockerfile,
                           re.M)
        if not debian or not froms:
            self.error("could not find the Debian version in scripts/setup.sh "
                       "or ARG DEBIAN_IMAGE in docker/Dockerfile")
        elif froms[0] != debian.group(1):
            self.error(
                f"version mismatch: docker/Dockerfile builds on debian:"
                f"{froms[0]}, but scripts/setup.sh installs on Debian "
                f"{debian.group(1)}")

    def check_programs(self):
        services = self.compose.get("services") or {}
        in_compose = set()
        for service in services.values():
            in_compose.update(service_programs(service, self.programs))
        for program in self.served_programs():
            if program not in in_compose:
                self.error(
                    f"program {program} ({self.source_of(program)}) serves a "
                    f"port but no service of docker/compose.yaml runs it")
        built = set()
        match = re.search(r"--target((?:\s+\\?\s*ma-[\w-]+)+)", self.dockerfile)
        if match:
            built = set(re.findall(r"ma-[\w-]+", match.group(1)))
        for program in sorted(self.programs):
            if program not in built:
                self.error(
                    f"program {program} ({self.source_of(program)}) is built "
                    f"by CMake but not by docker/Dockerfile (cmake --build "
                    f"--target list)")

    def check_native_settings(self, demo_text):
        """Every setting demo.sh gives a program is set in compose too."""
        native = demo_service_settings(demo_text)
        if not native:
            self.error("scripts/demo.sh: no start_program command found; "
                       "the native settings check cannot run")
            return
        services = self.compose.get("services") or {}
        for program, found in sorted(native.items()):
            if program not in self.settings:
                self.error(f"scripts/demo.sh starts {program}, which CMake "
                           f"does not build")
                continue
            env_names = self.program_env_names(program)
            settings = set()
            for item in found:
                if item.startswith("MA_"):
                    if item in env_names:
                        settings.add(env_names[item])
                elif item in self.settings[program]:
                    settings.add(item)
                else:
                    self.error(f"scripts/demo.sh gives {program} --{item}, "
                               f"which is not a setting of "
                               f"{self.source_of(program)}")
            # The services whose command starts the program; a program
            # named only as an argument (ma-mqtt-users add ma-notifier)
            # does not count.
            runs_it = [n for n, svc in services.items()
                       if service_words(svc)[:1] == [program]]
            if not runs_it:
                self.error(f"scripts/demo.sh starts {program}, but no "
                           f"service of docker/compose.yaml runs it")
            for setting in sorted(settings - NATIVE_ONLY):
                var = env_name(setting)
                for name in runs_it:
                    if var not in service_environment(services[name]):
                        self.error(
                            f"docker/compose.yaml: service {name} does not "
                            f"set {var}, but scripts/demo.sh passes "
                            f"{setting} to {program}")

    def run(self, demo_text=None):
        if demo_text is not None:
            self.check_native_settings(demo_text)
        self.check_service_environment()
        self.check_interpolation()
        self.check_ports()
        self.check_host_ports()
        self.check_versions()
        self.check_programs()
        return self.errors


# ---------------------------------------------------------------------------
# Self-test: each break must be reported
# ---------------------------------------------------------------------------


def self_test(repo, compose_text, env_example, dockerfile, demo_text):
    """Run the checks on broken copies; return the breaks not reported."""
    cases = [
        ("misspelt variable",
         compose_text.replace("MA_KAFKA_BROKERS: kafka:9092",
                              "MA_KAFKA_BROKER: kafka:9092", 1),
         env_example, dockerfile, "MA_KAFKA_BROKER,"),
        ("gateway port",
         compose_text.replace('MA_LISTEN_PORT: "8480"',
                              'MA_LISTEN_PORT: "8481"', 1),
         env_example, dockerfile, "MA_LISTEN_PORT=8481"),
        ("kafka version",
         compose_text.replace("apache/kafka:4.1.1", "apache/kafka:4.0.0", 1),
         env_example, dockerfile, "apache/kafka:4.0.0"),
        ("undocumented variable",
         compose_text, re.sub(r"^MA_PSEUDONYM_SECRET=.*$", "", env_example,
                              flags=re.M),
         dockerfile, "does not document it"),
        ("program missing from the image",
         compose_text, env_example,
         dockerfile.replace(" ma-notifier ", " ", 1), "program ma-notifier"),
        ("native setting missing from compose",
         re.sub(r"^      MA_CATALOG_PATH: .*\n", "", compose_text, count=1,
                flags=re.M),
         env_example, dockerfile, "scripts/demo.sh passes catalog.path"),
    ]
    missed = []
    for label, compose, env, docker, expected in cases:
        if compose == compose_text and env == env_example and \
                docker == dockerfile:
            missed.append(f"{label}: the break could not be applied")
            continue
        errors = Checker(repo, compose, env, docker).run(demo_text)
        if not any(expected in e for e in errors):
            missed.append(f"{label}: no error containing {expected!r}")
    return missed, len(cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser.add_argument("--self-test", action="store_true",
                        help="also check that broken copies are reported")
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)
    compose_text = read(repo, "docker/compose.yaml")
    env_example = read(repo, "docker/.env.example")
    dockerfile = read(repo, "docker/Dockerfile")
    demo_text = read(repo, "scripts/demo.sh")

    errors = Checker(repo, compose_text, env_example, dockerfile).run(
        demo_text)
    for message in errors:
        print(f"deploy.consistency: FAIL: {message}")
    failed = len(errors)
    if args.self_test:
        missed, count = self_test(repo, copy.copy(compose_text), env_example,
                                  dockerfile, demo_text)
        for message in missed:
            print(f"deploy.consistency: FAIL: self-test: {message}")
        failed += len(missed)
        if not missed:
            print(f"ok - self-test: all {count} deliberate breaks reported")
    if failed:
        print(f"deploy.consistency: {failed} problems")
        return 1
    print("deploy.consistency: docker/ agrees with the programs, scripts "
          "and docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
