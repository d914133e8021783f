// Sextant: an embedded vector database. Include this header for the whole public API.
#ifndef SEXTANT_SEXTANT_H_
#define SEXTANT_SEXTANT_H_

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

#endif  // SEXTANT_SEXTANT_H_
