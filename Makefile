# posthorn: build, test and run.  `make` builds user commands into bin/ and
# daemons into libexec/; `make check` runs the C unit tests and the bats
# integration tests and ends with "N passed, N failed"; `make run` starts a
# demo instance in ./run; `make bench` compares throughput with Postfix.
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.

CC ?= cc
OPT ?= -O2
CFLAGS_BASE = -std=c17 -Wall -Wextra -Werror -Wshadow -Wvla -D_GNU_SOURCE \
	-Icommon $(OPT) -g -fno-strict-aliasing
LDLIBS = -lcdb -lssl -lcrypto -lcrypt
# The per-connection programs are linked statically: exec without the
# dynamic loader costs a third less, and a login stage that relays a
# session for hours keeps no private copy of libcrypto's relocated data
# (about 400 KiB per session when linked dynamically).
STATIC_PROGS = smtpd enqueue imapd-login pop3d-login
STATIC_LDFLAGS = -static
ifeq ($(SAN),1)
STATIC_LDFLAGS =
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD ?= build-san
else
BUILD ?= build
endif
CFLAGS += $(CFLAGS_BASE)

# program name -> source directory
BIN_PROGS = posthorn sendmail mailq
LIBEXEC_PROGS = master smtpd enqueue qmgr local auth pop3d mailboxd pop3d-login remote imapd-login imapd
SRCDIR_posthorn = posthorn
SRCDIR_sendmail = queue/sendmail
SRCDIR_mailq = queue/mailq
SRCDIR_master = master
SRCDIR_smtpd = smtpd
SRCDIR_enqueue = queue/enqueue
SRCDIR_qmgr = queue/qmgr
SRCDIR_local = delivery/local
SRCDIR_remote = delivery/remote
SRCDIR_pop3d = pop3d/mailbox
SRCDIR_mailboxd = pop3d/spawner
SRCDIR_pop3d-login = pop3d/login
SRCDIR_imapd-login = imapd/login
SRCDIR_imapd = imapd/mailbox
SRCDIR_auth = auth

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB = $(BUILD)/libposthorn.a

PROG_TARGETS = $(BIN_PROGS:%=bin/%) $(LIBEXEC_PROGS:%=libexec/%)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

all: deps-check $(PROG_TARGETS) $(UNIT_BINS)

deps-check:
	@scripts/deps.sh check build

deps:
	scripts/deps.sh install

$(BUILD)/%.o: %.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	@ar rcs $@ $^

define prog_rule
$(1)/$(2): $$(patsubst %.c,$(BUILD)/%.o,$$(wildcard $$(SRCDIR_$(2))/*.c)) $(LIB)
	@mkdir -p $(1)
	@echo "  LD      $$@"
	@$$(CC) $$(LDFLAGS) $$(if $$(filter $(2),$$(STATIC_PROGS)),$$(STATIC_LDFLAGS)) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(BIN_PROGS),$(eval $(call prog_rule,bin,$(p))))
$(foreach p,$(LIBEXEC_PROGS),$(eval $(call prog_rule,libexec,$(p))))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check: all
	@scripts/deps.sh check test
	@scripts/deps.sh node
	@BUILD=$(BUILD) tests/run

# Fuzz targets: libFuzzer with clang (make fuzz; FUZZ_SECONDS per target).
FUZZ_SECONDS ?= 30
fuzz:
	@tests/fuzz/run $(FUZZ_SECONDS)

run: all
	@scripts/run.sh

bench: all
	@tests/bench/run

clean:
	rm -rf build build-san bin libexec

.PHONY: all deps deps-check check run bench clean fuzz
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Install (scripts/install.sh; INSTALL has the details): PREFIX, DESTDIR,
# SYSCONFDIR, INSTALL_COMPAT=1 (sendmail, mailq, newaliases), NO_USERS=1
# (packaging), RELOCATE=1 (the config names DESTDIR paths: run in place).
PREFIX ?= /usr/local
INSTALL_VARS = PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' INSTALL_COMPAT='$(INSTALL_COMPAT)' \
	NO_USERS='$(NO_USERS)' RELOCATE='$(RELOCATE)' INIT_OPTS='$(INIT_OPTS)' \
	$(if $(SYSCONFDIR),SYSCONFDIR='$(SYSCONFDIR)')
install: all
	@$(INSTALL_VARS) scripts/install.sh install

uninstall:
	@$(INSTALL_VARS) scripts/install.sh uninstall

.PHONY: install uninstall
