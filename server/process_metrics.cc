#include "server/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace meshkv {
namespace {

// The fields of /proc/self/stat after the command name (which may hold
// spaces and parentheses, hence the last ')'): fields[0] is field 3, state.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// Seconds since the epoch at which the system booted (/proc/stat btime).
double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

}  // namespace

Metrics::Collector ProcessCollector() {
  return [] {
    std::vector<prometheus::MetricFamily> out;
    auto add = [&out](prometheus::MetricFamily f, double value) {
      AddSample(&f, value);
      out.push_back(std::move(f));
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    // utime, stime, starttime, vsize, rss are fields 14, 15, 22, 23, 24.
    const std::vector<std::string> stat = StatFields();
    if (stat.size() > 21 && ticks > 0) {
      add(CounterFamily("process_cpu_seconds_total",
                        "Total user and system CPU time spent in seconds."),
          (std::stod(stat[11]) + std::stod(stat[12])) / ticks);
      add(GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes."),
          std::stod(stat[20]));
      add(GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes."),
          std::stod(stat[21]) * page);
      if (const double boot = BootTime(); boot >= 0) {
        add(GaugeFamily("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds."),
            boot + std::stod(stat[19]) / ticks);
      }
    }
    if (const int fds = OpenFds(); fds >= 0) {
      add(GaugeFamily("process_open_fds", "Number of open file descriptors."), fds);
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      add(GaugeFamily("process_max_fds", "Maximum number of open file descriptors."),
          static_cast<double>(limit.rlim_cur));
    }
    return out;
  };
}

}  // namespace meshkv
