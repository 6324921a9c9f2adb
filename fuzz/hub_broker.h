/*
 * The broker functions the hub's sources call, for the fuzz targets that compile the
 * hub's sources outside mosquitto.  Option parsing never calls them: each
 * aborts, so a target that reaches one fails loudly instead of pretending.
 */
#ifndef MOBIUS_FUZZ_HUB_BROKER_H
#define MOBIUS_FUZZ_HUB_BROKER_H

#include <stdbool.h>
#include <stdlib.h>

#include <mosquitto_broker.h>

int mosquitto_callback_register(mosquitto_plugin_id_t *id, int ev,
    MOSQ_FUNC_generic_callback cb, const void *data, void *ud)
{ (void)id; (void)ev; (void)cb; (void)data; (void)ud; abort(); }
int mosquitto_callback_unregister(mosquitto_plugin_id_t *id, int ev,
    MOSQ_FUNC_generic_callback cb, const void *data)
{ (void)id; (void)ev; (void)cb; (void)data; abort(); }
const char *mosquitto_client_address(const struct mosquitto *c) { (void)c; abort(); }
const char *mosquitto_client_id(const struct mosquitto *c) { (void)c; abort(); }
int mosquitto_kick_client_by_clientid(const char *id, bool will)
{ (void)id; (void)will; abort(); }
int mosquitto_broker_publish_copy(const char *id, const char *topic, int len,
    const void *payload, int qos, bool retain, mosquitto_property *props)
{ (void)id; (void)topic; (void)len; (void)payload; (void)qos; (void)retain;
  (void)props; abort(); }
void mosquitto_log_printf(int level, const char *fmt, ...) { (void)level; (void)fmt; }

#endif
