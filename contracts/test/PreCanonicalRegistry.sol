// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CredentialRegistry} from "../CredentialRegistry.sol";

/**
 * @title PreCanonicalRegistry
 * @dev Tests only: a registry as deployed before canonical issuer URIs were enforced. It admits
 * any non-empty URI, so tests can build the legacy look-alike duplicates (`uni.example` beside
 * `did:web:uni.example`) that the verifier must still refuse on existing deployments.
 */
contract PreCanonicalRegistry is CredentialRegistry {
    constructor(address admin) CredentialRegistry(admin) {}

    function _uriAdmissible(string calldata) internal pure override returns (bool) {
        return true;
    }
}
