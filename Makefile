# Walrus gateway for nginx: core library, walrusctl, tests and benchmarks.

SHELL    := /bin/bash
CC       ?= cc
BUILD    ?= build
OPT      ?= -O2 -g
CFLAGS   += -std=gnu11 $(OPT) -fPIC -W -Wall -Wextra -Wpointer-arith \
            -Wno-unused-parameter -Werror -Iinclude
LDLIBS   += -lisal -ljansson -ljwt -lcrypto
CLI_LIBS  = -lcurl

# Intel's multi-buffer SHA-256 (libipsec-mb-dev) is optional: Debian ships
# it for amd64 only, and without it leaves go through OpenSSL (same bytes,
# about half the speed).  IPSEC_MB=no builds without it where it is there.
IPSEC_MB ?= $(if $(wildcard /usr/include/intel-ipsec-mb.h),yes,no)
ifeq ($(IPSEC_MB),yes)
CFLAGS   += -DWALRUS_HAVE_IPSEC_MB=1
LDLIBS   += -lIPSec_MB
endif

CORE_SRC  = $(wildcard src/core/*.c)
CORE_OBJ  = $(CORE_SRC:src/core/%.c=$(BUILD)/core/%.o)
CLI_SRC   = $(wildcard src/cli/*.c)
CLI_OBJ   = $(CLI_SRC:src/cli/%.c=$(BUILD)/cli/%.o)
UNIT_SRC  = $(wildcard t/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:t/unit/%.c=$(BUILD)/unit/%)
HEADERS   = $(wildcard include/*.h) $(wildcard t/unit/*.h) \
            $(wildcard src/cli/*.h)

SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all


.PHONY: style all deps unit unit-sanitize test bench bench-heal bench-audit \
        clean module run stop module-sanitize unit-ngx

all: $(BUILD)/libwalrus.a $(BUILD)/walrusctl module $(BUILD)/tools/bad_parity \
     $(BUILD)/tools/audit_sample $(BUILD)/tools/audit_tool \
     $(BUILD)/tools/audit_forge

# The nginx module, built out of tree against Debian's nginx-dev headers
# with the flags of the installed binary (so that it loads into it).
NGX_SRC    = /usr/share/nginx/src
NGX_BUILD  = $(BUILD)/nginx
NGX_CC_OPT ?= -g -O2 -fPIC
NGX_LD_OPT ?= -fPIC
MODULE     = $(BUILD)/ngx_http_walrus_module.so
GLUE_DIRS  = src/ngx src/gateway src/node
MODULE_SRC = config ngx_walrus_module.c docs/openapi.yaml $(CORE_SRC) \
             $(wildcard include/*.h) \
             $(foreach d,$(GLUE_DIRS),$(wildcard $(d)/*.c $(d)/*.h))

module: $(MODULE)

# configure lists the module's files in objs/Makefile: configure again
# when a file is added or removed ($(BUILD)/module-files changes only then)
$(shell mkdir -p $(BUILD) && ls $(MODULE_SRC) > $(BUILD)/module-files.new \
    && { cmp -s $(BUILD)/module-files.new $(BUILD)/module-files \
         && rm $(BUILD)/module-files.new \
         || mv $(BUILD)/module-files.new $(BUILD)/module-files; })

$(NGX_BUILD)/objs/Makefile: config $(BUILD)/module-files
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && . ./conf_flags \
	    && WALRUS_IPSEC_MB=$(IPSEC_MB) ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(NGX_CC_OPT)" \
	    --with-ld-opt="$(NGX_LD_OPT)" --add-dynamic-module=$(CURDIR) \
	    > configure.log \
	    || { cat configure.log; exit 1; }

$(MODULE): $(NGX_BUILD)/objs/Makefile $(MODULE_SRC)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_walrus_module.so $@

$(BUILD)/core/%.o: src/core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/cli/%.o: src/cli/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/cli -c -o $@ $<

$(BUILD)/libwalrus.a: $(CORE_OBJ)
	$(AR) rcs $@ $^

# walrusctl alone talks HTTP (walrusctl audit): libcurl
$(BUILD)/walrusctl: $(CLI_OBJ) $(BUILD)/libwalrus.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS) $(CLI_LIBS)

$(BUILD)/unit/%: t/unit/%.c $(BUILD)/libwalrus.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -It/unit -o $@ $< $(BUILD)/libwalrus.a \
	    $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: t/tools/%.c $(BUILD)/libwalrus.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -It/unit -o $@ $< $(BUILD)/libwalrus.a $(LDFLAGS) \
	    $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libwalrus.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libwalrus.a $(LDFLAGS) $(LDLIBS)

deps:
	sh scripts/install-deps.sh

# C unit tests of src/core print TAP; prove runs the binaries directly,
# twice when the multi-buffer leaf hashing is built in: the second run
# with OpenSSL only, the path of machines without it.
unit: $(UNIT_BIN)
	prove -e '' $(UNIT_BIN)
ifeq ($(IPSEC_MB),yes)
	WALRUS_SHA256=openssl prove -e '' $(UNIT_BIN)
endif

# unit tests of glue that needs nginx's headers (not its functions): the
# route parser and the worker's memo, against the module's nginx tree
NGX_INCS  = $(addprefix -I$(NGX_BUILD)/,src/core src/event src/event/modules \
            src/os/unix src/http src/http/modules src/http/v2 objs) \
            $(addprefix -I,$(GLUE_DIRS))
UNIT_NGX  = $(BUILD)/unit/test_route $(BUILD)/unit/test_memo

$(BUILD)/unit/test_route: t/unit/ngx/test_route.c src/ngx/ngx_walrus_route.c \
    $(MODULE) $(BUILD)/libwalrus.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -It/unit $(NGX_INCS) -o $@ $< \
	    src/ngx/ngx_walrus_route.c $(BUILD)/libwalrus.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/unit/test_memo: t/unit/ngx/test_memo.c src/gateway/ngx_walrus_memo.c \
    $(MODULE) $(BUILD)/libwalrus.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -It/unit $(NGX_INCS) -o $@ $< $(BUILD)/libwalrus.a \
	    $(LDFLAGS) $(LDLIBS)

unit-ngx: $(UNIT_NGX)
	prove -e '' $(UNIT_NGX)

unit-sanitize:
	$(MAKE) BUILD=build-san OPT="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" unit

# the module with ASan and UBSan, for WALRUS_SANITIZE=1 prove (the
# harness preloads the runtime into the uninstrumented nginx)
module-sanitize:
	$(MAKE) BUILD=build-san NGX_CC_OPT="$(SAN_FLAGS) -fPIC" \
	    NGX_LD_OPT="-fPIC -fsanitize=address,undefined" module

# nginx style: 80 columns, no tabs, no trailing white space
style:
	@bad=$$(grep -nP '.{81}|\t|\s+$$' $$(git ls-files '*.c' '*.h') \
	    | head -20); \
	if [ -n "$$bad" ]; then echo "style:"; echo "$$bad"; exit 1; fi

test: deps
	$(MAKE) style
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-ngx
	$(MAKE) unit-sanitize
	$(MAKE) module-sanitize
	WALRUS_VALGRIND=1 prove t/10-node.t t/30-gateway-get.t
	WALRUS_SANITIZE=1 prove t/10-node.t t/11-node-verify.t \
	    t/16-node-record.t t/17-node-recovery.t t/18-node-heal.t \
	    t/20-gateway-put.t \
	    t/23-gateway-hung-node.t \
	    t/30-gateway-get.t t/37-byzantine-node.t t/38-gateway-lost-blob.t \
	    t/55-gateway-jwt.t t/61-hash-engine.t t/63-node-stream.t
	prove -r t

# the codec, then the gateway against plain nginx (bench/gateway_bench.pl,
# about 10 minutes; results in $(BUILD)/bench/gateway.md)
bench: all $(BUILD)/bench/codec_bench
	$(BUILD)/bench/codec_bench
	perl bench/gateway_bench.pl

# healing: bytes a wiped node downloads per byte it rebuilds, and the time
# to heal about 1 GiB of slivers (bench/heal_bench.pl, 10 to 20 minutes,
# about 8 GB in $$TMPDIR; results in $(BUILD)/bench/heal.md); not part of
# `make bench`
bench-heal: all
	perl bench/heal_bench.pl

# storage audits: the pass probability of a node that lost blobs, exact
# and simulated with the core's challenge sets (bench/audit_sim.c, about
# 2 minutes on one core), then bytes and CPU per audit round and node of
# a 7-node network holding 1,000 blobs (bench/audit_bench.pl, about 25
# minutes, mostly idle; results in $(BUILD)/bench/audit.md); not part of
# `make bench` or `make test`
$(BUILD)/bench/audit_sim: LDLIBS += -lm

bench-audit: all $(BUILD)/bench/audit_sim
	$(BUILD)/bench/audit_sim
	perl bench/audit_bench.pl

run:
	bash scripts/local-network.sh start

stop:
	bash scripts/local-network.sh stop

clean:
	rm -rf build build-san
