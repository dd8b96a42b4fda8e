/* telemetry_events.h: the engine's events as telemetry: an engine observer
 * that encodes each event's payload (the event catalogue, docs/events.md)
 * into the telemetry envelope. */
#ifndef ITD_TELEMETRY_EVENTS_H
#define ITD_TELEMETRY_EVENTS_H

#include "engine/engine.h"
#include "telemetry/telemetry.h"

/* Fill *obs so the engine reports into t.  t must outlive the engine's
 * use of the observer. */
void itd_tel_observer(struct itd_tel *t, struct itd_observer *obs);

/* Write the engine.tick frame's payload members (state, policy, execution,
 * safety, state_hash) into an open object; shared with the API's state
 * view. */
void itd_tel_write_frame(struct itd_jw *w, const struct itd_engine *e);

#endif
