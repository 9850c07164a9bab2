#ifndef PACA_CHIREDIS_SHIM_H
#define PACA_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>

// redisCommand is variadic; paca only uses redisCommandArgv / redisAppendCommandArgv, which are
// not. This header exists so the module has one place for wrappers when they are needed.

#endif
