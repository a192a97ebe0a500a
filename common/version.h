// The meshkv version, from the project() line of the root CMakeLists.txt.
#ifndef MESHKV_COMMON_VERSION_H_
#define MESHKV_COMMON_VERSION_H_

namespace meshkv {

inline constexpr char kMeshkvVersion[] = MESHKV_VERSION;

}  // namespace meshkv

#endif  // MESHKV_COMMON_VERSION_H_
