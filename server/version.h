// The meshkv version, from the project() line of the root CMakeLists.txt.
#ifndef MESHKV_SERVER_VERSION_H_
#define MESHKV_SERVER_VERSION_H_

namespace meshkv {

inline constexpr char kMeshkvVersion[] = MESHKV_VERSION;

}  // namespace meshkv

#endif  // MESHKV_SERVER_VERSION_H_
