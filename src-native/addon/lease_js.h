// The JavaScript side of single leases (lib/pool-lease.ts is the only caller): module-level
// functions that take the pool's lease-table handle as their first argument, e.g.
// leaseAcquire(handle, size, viaHome) -> lease number.
//
// Why not methods of NativePool: node-addon-api finds the C++ object of every method call with
// napi_unwrap, a private-symbol lookup that took about a sixth of a whole lease + release in
// Node 20 (perf: 16% inclusive, two calls per lease). The handle is an External, read with
// napi_get_value_external, which is a field load.
#pragma once

#include <napi.h>

#include <memory>

#include "lease_table.h"

namespace tunio {

void DefineLeaseFunctions(Napi::Env env, Napi::Object exports);

// The table of a pool's handle (an External made by NewLeaseHandle), or nullptr.
LeaseTable* LeaseTableFromValue(Napi::Env env, Napi::Value handle);

// A pool's handle: an External owning one reference to its table.
Napi::Value NewLeaseHandle(Napi::Env env, const std::shared_ptr<LeaseTable>& table);

}  // namespace tunio
