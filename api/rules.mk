# mobius-api: the HTTP/WebSocket API and dashboard (docs/api.md).  It
# links the CLI's output module so that its stream records are exactly
# those of `mobius watch --json`.
API_BIN  := $(BUILD)/bin/mobius-api
API_OBJS := $(call objs,$(wildcard api/*.c) cli/format.c)
PROGRAMS += $(API_BIN)
INSTALL_BIN += $(API_BIN)

$(API_BIN): $(API_OBJS) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(API_OBJS) $(LIBS) -lwebsockets

# The dashboard and the OpenAPI document go with the program.
.PHONY: install-api
install: install-api
install-api:
	install -d $(DESTDIR)$(PREFIX)/share/mobius/www
	install -m 0644 api/www/index.html api/www/app.js api/www/style.css \
	    api/openapi.json $(DESTDIR)$(PREFIX)/share/mobius/www/
	install -D -m 0644 api/api.json $(DESTDIR)$(PREFIX)/share/mobius/examples/api.json
