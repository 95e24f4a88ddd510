{
  "targets": [
    {
      "target_name": "tunio",
      "sources": ["<!@(node scripts/sources.js all)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "src-native/core"
      ],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14", "-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "ldflags": ["-Wl,-z,nodelete"],
      "libraries": ["-ldl"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
    }
  ]
}
