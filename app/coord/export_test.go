package coord

// NewRedisUnconnected exposes newRedis to the external tests: it builds the
// client without contacting the server.
var NewRedisUnconnected = newRedis
