/** Cairn's version (from package.json) and the etcd API version its gateway speaks. */
import pkg from "../package.json" with { type: "json" };

/** Cairn release, e.g. "0.1.0". */
export const CAIRN_VERSION: string = pkg.version;

/** etcd version reported by /version and to etcd clients: Cairn serves etcd 3.4's JSON gateway. */
export const ETCD_API_VERSION = "3.4.0";
