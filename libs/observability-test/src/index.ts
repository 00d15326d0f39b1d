export {
  allPanels,
  dashboardQueries,
  loadDashboards,
  substituteVariables,
  variablesIn,
  type Annotation,
  type Dashboard,
  type DashboardFile,
  type DashboardQuery,
  type DatasourceRef,
  type Panel,
  type TemplateVariable,
} from "./dashboards.js";
export {
  findBinary,
  promtool,
  samplesOf,
  startPrometheus,
  type ApiResponse,
  type PrometheusHandle,
  type PrometheusOptions,
  type QueryData,
  type Rule,
  type RunResult,
  type Sample,
  type ScrapeTarget,
} from "./prometheus.js";
export { startNatsWithConfig, type ConfiguredNats } from "./nats.js";
export { startPermissionedNats, type PermissionedNats } from "./permissioned-nats.js";
