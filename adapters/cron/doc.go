// Package cron is the schedule trigger adapter: it fires a trigger's function on a cron
// schedule by publishing one CloudEvent per scheduled time.
//
// Expressions are parsed by github.com/robfig/cron/v3: five fields (minute hour day month
// weekday), six with a leading seconds field, or a macro (@yearly, @monthly, @weekly, @daily,
// @hourly, @every 10s). They are evaluated in the spec's time zone (an IANA name; UTC when
// empty). A bad expression, zone or data is refused by New, so adding such a trigger fails at
// once.
//
// Every firing publishes an event of type dev.sluice.cron.tick, source /sluice/cron/<trigger id>,
// time = the scheduled time (not the moment the timer woke), extension sluicetrigger=cron, and
// data = the spec's static JSON data, or {"trigger", "function", "scheduled"} when it has none.
// The event id is a name-based UUID (version 5) of the trigger id and the scheduled time, so any
// number of adapter processes firing the same tick publish the same id and the bus's duplicate
// window (2 minutes) stores it once: one invocation per scheduled time.
//
// A publish that fails is retried with backoff for up to a minute after the scheduled time (still
// inside the duplicate window), reported as retrying, then that tick is given up and reported.
//
// Missed runs. Times that passed while no adapter ran are skipped by default: an adapter starts
// with the first scheduled time after now. With CatchUp, an adapter that starts fires once for the
// most recent scheduled time missed since the last fired time, then carries on normally. The last
// fired time is remembered in the sluice_triggers bucket under "cron.<trigger id>" (a Memory, see
// Factory); a trigger never fired before has nothing to catch up. Catch-up firings use the same
// deterministic ids, so several processes starting together still fire once.
package cron
